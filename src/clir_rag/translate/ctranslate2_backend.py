"""NMT with CTranslate2: converted NLLB-200, M2M-100 and Marian (opus-mt) models (extra ``[mt]``).

Get a model (needs internet once)::

    pip install ctranslate2 transformers sentencepiece
    ct2-transformers-converter --model facebook/nllb-200-distilled-600M \\
        --output_dir nllb-200-distilled-600M-ct2 --quantization int8 \\
        --copy_files sentencepiece.bpe.model

then ``CTranslate2Translator("nllb-200-distilled-600M-ct2")``, fully offline.
The SentencePiece model must sit in the model directory (``--copy_files``);
for Marian models copy ``source.spm`` and ``target.spm``.

Per family: NLLB takes FLORES-200 codes (``swh_Latn``) as the first source
token and as the target prefix; M2M-100 takes ``__sw__``. A Marian model is
one language pair, or one source and several targets chosen by a ``>>xxx<<``
token at the start of the source (``>>deu<<``; ISO 639-3, ISO 639-1 or
FLORES-200 spellings are looked up in the vocabulary). A Marian model's
vocabulary does not say which language pair it serves, so give it as
``pair=("de", "en")``; a directory named like ``opus-mt-de-en`` gives it too.
Without it, any pair is accepted, since it cannot be checked. Batching is
by token count (CTranslate2's ``batch_type="tokens"``), decoding greedy by
default, and a sentence longer than ``max_input_tokens`` is split into pieces
rather than silently truncated.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from clir_rag.cache import SqliteCache
from clir_rag.errors import InputError, TranslationModelError, UnsupportedLanguageError, missing_extra
from clir_rag.languages import get_language, to_flores
from clir_rag.translate.base import Translator

Family = Literal["nllb", "m2m100", "marian"]
_MARIAN_TARGET = re.compile(r"^>>[^<>\s]+<<$")
_OPUS_MT_NAME = re.compile(r"opus-mt-([a-z]{2,3})-([a-z]{2,3})(?:$|[-_.])", re.I)


def _read_vocabulary(model_dir: Path) -> list[str]:
    for name in ("shared_vocabulary.json", "target_vocabulary.json"):
        if (model_dir / name).exists():
            return json.loads((model_dir / name).read_text(encoding="utf-8"))
    for name in ("shared_vocabulary.txt", "target_vocabulary.txt"):
        if (model_dir / name).exists():
            return (model_dir / name).read_text(encoding="utf-8").splitlines()
    raise TranslationModelError(f"{model_dir}: no vocabulary file in the CTranslate2 model directory")


def detect_family(vocabulary: Sequence[str]) -> Family:
    """The model family (nllb, m2m100 or marian) from the language tokens in its vocabulary."""
    vocab = set(vocabulary)
    if "eng_Latn" in vocab:
        return "nllb"
    if "__en__" in vocab:
        return "m2m100"
    return "marian"


class CTranslate2Translator(Translator):
    """A CTranslate2 translation model directory; ``family`` is detected from its vocabulary.

    ``pair`` (source, target) names the languages of a Marian model, which its vocabulary does not tell
    (a multi-target Marian model serves its ``>>xxx<<`` targets whatever ``pair`` says of the target).
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        family: Family | None = None,
        device: str = "cpu",
        compute_type: str = "int8",
        beam_size: int = 1,
        max_batch_tokens: int = 2048,
        max_input_tokens: int = 200,
        intra_threads: int = 0,
        cache: SqliteCache | str | Path | None = None,
        sentence_level: bool = True,
        pair: tuple[str, str] | None = None,
    ) -> None:
        try:
            import ctranslate2  # noqa: F401 - checked here, loaded on first use
            import sentencepiece as spm
        except ImportError as e:
            raise missing_extra("the CTranslate2 translator", "mt", e) from e
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "model.bin").is_file():
            raise TranslationModelError(
                f"{self.model_dir} is not a CTranslate2 model directory (no model.bin); convert one with "
                "ct2-transformers-converter (see clir_rag.translate.ctranslate2_backend)"
            )
        # the cache file is created only once the model is known to be usable
        super().__init__(cache=cache, sentence_level=sentence_level)
        self.vocabulary = _read_vocabulary(self.model_dir)
        self._vocab = set(self.vocabulary)
        self.family: Family = family or detect_family(self.vocabulary)
        self._marian_targets = {t for t in self.vocabulary if _MARIAN_TARGET.match(t)}
        self.pair = self._marian_pair(pair)
        src_spm, tgt_spm = self._find_spm()
        self._sp_src = spm.SentencePieceProcessor(model_file=str(src_spm))
        self._sp_tgt = spm.SentencePieceProcessor(model_file=str(tgt_spm))
        self._device, self._compute_type, self._intra_threads = device, compute_type, intra_threads
        self.beam_size = beam_size
        self.max_batch_tokens = max_batch_tokens
        self.max_input_tokens = max_input_tokens
        self.name = f"ct2:{self.model_dir.name}:{self.family}:beam{beam_size}"
        self._model: Any = None  # the ctranslate2.Translator, loaded on first use (see _translator)
        self._model_lock = threading.Lock()
        self.batches = 0  # translate_batch calls, for tests and throughput reports

    @property
    def _translator(self) -> Any:
        """The CTranslate2 model, loaded on first use, once, whatever number of threads ask at once.

        Loaded lazily: a driver that only names the model and checks languages (the Ray path, whose
        actors translate) never holds the weights. Under a lock, checked twice: ``/translate`` calls
        this from the server's worker threads without a queue in front, and concurrent first requests
        would each load the weights (seconds and a model's memory each) and keep only one.
        """
        model = self._model
        if model is None:
            with self._model_lock:
                model = self._model
                if model is None:
                    model = self._model = self._load_model()
        return model

    @_translator.setter
    def _translator(self, model: Any) -> None:
        # a loaded model handed in (tests wrap the real one to record its calls)
        self._model = model

    def _load_model(self) -> Any:
        import ctranslate2

        return ctranslate2.Translator(
            str(self.model_dir), device=self._device, compute_type=self._compute_type, intra_threads=self._intra_threads
        )

    def _find_spm(self) -> tuple[Path, Path]:
        d = self.model_dir
        if self.family == "marian" and (d / "source.spm").exists():
            return d / "source.spm", d / ("target.spm" if (d / "target.spm").exists() else "source.spm")
        candidates = sorted(d.glob("*.model")) + sorted(d.glob("*.spm"))
        if not candidates:
            raise TranslationModelError(
                f"{d}: no SentencePiece model (*.model / *.spm); convert with --copy_files sentencepiece.bpe.model"
            )
        return candidates[0], candidates[0]

    # -- language codes -------------------------------------------------------------

    def _marian_pair(self, pair: tuple[str, str] | None) -> tuple[str, str] | None:
        if self.family != "marian":
            if pair is not None:
                raise InputError(f"pair= is for Marian models; {self.model_dir} is a {self.family} model")
            return None
        if pair is None:
            named = _OPUS_MT_NAME.search(self.model_dir.resolve().name)
            if named is None:
                return None
            pair = (named.group(1), named.group(2))
        return (get_language(pair[0]).code, get_language(pair[1]).code)

    def code_token(self, lang: str) -> str | None:
        """The token that names ``lang`` for this model family (None for a single-pair Marian model)."""
        if self.family == "marian":
            return self._marian_target(lang) if self._marian_targets else None
        if self.family == "nllb":
            token = to_flores(lang)
        else:
            info = get_language(lang)
            token = f"__{info.iso639_1 or info.code}__"
        if token not in self._vocab:
            raise UnsupportedLanguageError(
                f"language {lang!r} ({token}) is not supported by the {self.family} model in {self.model_dir}"
            )
        return token

    def _marian_target(self, lang: str) -> str:
        info = get_language(lang)
        spellings = [info.iso639_3, info.iso639_1, info.flores, info.flores and info.flores.split("_")[0]]
        for code in spellings:
            if code and f">>{code}<<" in self._marian_targets:
                return f">>{code}<<"
        shown = ", ".join(sorted(self._marian_targets)[:12]) + (", ..." if len(self._marian_targets) > 12 else "")
        raise UnsupportedLanguageError(
            f"language {lang!r} is not a target of the Marian model in {self.model_dir} (targets: {shown})"
        )

    def check_languages(self, src: str, tgt: str) -> None:
        """Raise :class:`~clir_rag.errors.UnsupportedLanguageError` unless this model translates ``src`` to ``tgt``."""
        if self.family != "marian":
            self.code_token(src)
            self.code_token(tgt)
            return
        if self.pair is not None:
            src_code = get_language(src).code
            if src_code != self.pair[0]:
                raise UnsupportedLanguageError(
                    f"the Marian model in {self.model_dir} translates from {self.pair[0]!r}, not {src!r}"
                )
            if not self._marian_targets and get_language(tgt).code != self.pair[1]:
                raise UnsupportedLanguageError(
                    f"the Marian model in {self.model_dir} translates into {self.pair[1]!r}, not {tgt!r}"
                )
        self.code_token(tgt)

    # -- translation ----------------------------------------------------------------

    def _pieces(self, segment: str) -> list[list[str]]:
        """Source pieces of one segment, split into runs of at most ``max_input_tokens`` at word starts."""
        pieces = self._sp_src.encode(segment, out_type=str)
        if len(pieces) <= self.max_input_tokens:
            return [pieces]
        runs: list[list[str]] = []
        current: list[str] = []
        for piece in pieces:
            at_word = piece.startswith("▁")
            if len(current) >= self.max_input_tokens or (at_word and len(current) >= self.max_input_tokens * 0.8):
                runs.append(current)
                current = []
            current.append(piece)
        if current:
            runs.append(current)
        return runs

    def translate_segments(self, segments: Sequence[str], src: str, tgt: str) -> list[str]:
        """Translate sentence-sized ``segments`` (batched by tokens, greedy or beam search)."""
        if self.family == "marian":
            # Marian: a multi-target model reads its target token as the first source token; no prefix.
            src_tok, tgt_tok = self.code_token(tgt), None
        else:
            src_tok, tgt_tok = self.code_token(src), self.code_token(tgt)
        sources: list[list[str]] = []
        owner: list[int] = []
        for i, seg in enumerate(segments):
            for run in self._pieces(seg):
                sources.append(([src_tok] if src_tok else []) + run + ["</s>"])
                owner.append(i)
        prefix = [[tgt_tok]] * len(sources) if tgt_tok else None
        results = self._translator.translate_batch(
            sources,
            target_prefix=prefix,
            beam_size=self.beam_size,
            max_batch_size=self.max_batch_tokens,
            batch_type="tokens",
            # a translation rarely needs more than twice its source's pieces
            max_decoding_length=2 * max(len(src) for src in sources) + 16,
        )
        self.batches += 1
        parts: list[list[str]] = [[] for _ in segments]
        for i, res in zip(owner, results, strict=True):
            hyp = res.hypotheses[0]
            if tgt_tok and hyp and hyp[0] == tgt_tok:
                hyp = hyp[1:]
            parts[i].append(self._sp_tgt.decode(hyp))
        return [" ".join(p for p in ps if p) for ps in parts]

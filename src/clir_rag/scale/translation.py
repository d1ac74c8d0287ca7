"""Corpus translation by CTranslate2 translator actors on Ray Data, batches handed back in order."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clir_rag.errors import ClirRagError, InputError
from clir_rag.scale._ray import map_blocks
from clir_rag.translate.base import TranslationStats

_STATS = ("texts", "segments", "cache_hits", "translated", "seconds")


class _TranslateActor:
    """One CTranslate2 model per actor, loaded once; translates each request (rows sharing ``b``) of a block."""

    def __init__(self, model_dir: str, tgt: str, options: dict[str, Any]) -> None:
        from clir_rag.translate.ctranslate2_backend import CTranslate2Translator

        self.translator = CTranslate2Translator(model_dir, **options)
        self.tgt = tgt

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        b, src, text = batch["b"], batch["src"], batch["text"]
        out: list[str] = []
        stats = {k: np.zeros(len(b), dtype=np.float64) for k in _STATS}
        starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
        for start, end in zip(starts, [*starts[1:], len(b)], strict=True):
            before = TranslationStats(**vars(self.translator.stats))
            out += self.translator.translate([str(t) for t in text[start:end]], str(src[start]), self.tgt)
            # the request's counts ride on its first row; the driver sums them
            for k in _STATS:
                stats[k][start] = getattr(self.translator.stats, k) - getattr(before, k)
        return {"b": b, "text": np.array(out, dtype=object), **stats}


class RayTranslator:
    """A CTranslate2 model on ``actors`` Ray actors, for :func:`clir_rag.translate.corpus.translate_corpus`.

    ``model_dir`` and ``options`` (``beam_size``, ``compute_type``, ``pair``, ...) are those of
    :class:`~clir_rag.translate.CTranslate2Translator`; every actor loads that model once (so on a
    cluster ``model_dir`` must be readable on every node, as must ``cache``). The driver reads only the
    vocabulary, to name the model and check languages, never the weights. ``cache`` is the sentence
    cache the actors share (SQLite, safe between processes), so a segment translated once, by any
    actor or by a single-process run, is not translated again. ``num_gpus`` per actor runs the model
    on CUDA. The output is the single-process job's, batch for batch: the same requests in the same
    order, each translated whole by one actor.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        actors: int = 2,
        cache: str | Path | None = None,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
        address: str | None = None,
        **options: Any,
    ) -> None:
        from clir_rag.translate.ctranslate2_backend import CTranslate2Translator

        if actors < 1:
            raise InputError(f"actors must be at least 1, got {actors}")
        if num_gpus > 0:
            options.setdefault("device", "cuda")
        options.setdefault("intra_threads", max(1, int(num_cpus)))  # one actor, its share of the cores
        self.model_dir = str(Path(model_dir).resolve())
        self.options = {**options, "cache": str(Path(cache).resolve()) if cache is not None else None}
        self._local = CTranslate2Translator(self.model_dir, **{**self.options, "cache": None})
        self.name = self._local.name
        self.actors, self.num_cpus, self.num_gpus, self.address = actors, num_cpus, num_gpus, address
        self.stats = TranslationStats()

    def check_languages(self, src: str, tgt: str) -> None:
        """Raise :class:`~clir_rag.errors.UnsupportedLanguageError` for a pair the model cannot do."""
        self._local.check_languages(src, tgt)

    def translate_batches(self, batches: Iterable[tuple[str, Sequence[str]]], tgt: str) -> Iterator[list[str]]:
        """Each ``(source language, texts)`` batch translated into ``tgt`` by the actors, yielded in order."""
        import pyarrow as pa

        requests = list(batches)
        if not requests:
            return
        # one block per request: an actor translates a request whole, as the single-process job does
        blocks = [
            pa.table({"b": np.full(len(texts), b, dtype=np.int64), "src": [src] * len(texts), "text": list(texts)})
            for b, (src, texts) in enumerate(requests)
        ]
        results = map_blocks(
            blocks,
            _TranslateActor,
            {"model_dir": self.model_dir, "tgt": tgt, "options": self.options},
            actors=self.actors,
            batch_size=None,  # a whole block (one request or several) per call
            num_cpus=self.num_cpus,
            num_gpus=self.num_gpus,
            address=self.address,
        )
        expected = 0
        pending: list[str] = []
        for batch in results:
            self.stats.merge(TranslationStats(**{k: type(getattr(self.stats, k))(batch[k].sum()) for k in _STATS}))
            for b, text in zip(batch["b"], batch["text"], strict=True):
                if int(b) != expected:  # the next request starts
                    yield self._finished(expected, pending, requests)
                    expected, pending = expected + 1, []
                    if int(b) != expected:
                        raise ClirRagError(f"Ray returned request {int(b)} where {expected} was due")
                pending.append(str(text))
        yield self._finished(expected, pending, requests)
        if expected != len(requests) - 1:
            raise ClirRagError(f"Ray returned {expected + 1} of {len(requests)} translation batches")

    @staticmethod
    def _finished(b: int, texts: list[str], requests: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
        if len(texts) != len(requests[b][1]):
            raise ClirRagError(f"Ray returned {len(texts)} of the {len(requests[b][1])} texts of batch {b}")
        return texts

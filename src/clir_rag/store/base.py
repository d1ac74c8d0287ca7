"""The vector-store protocol: what the retrievers and the index reader ask of a store of passages.

:class:`~clir_rag.store.chroma.ChromaStore` implements it; another store (a different
vector database, an in-memory table) implements these methods and the retrievers in
:mod:`clir_rag.retrieve` take it unchanged. Writing, opening and following another
process's writes are the index's business and stay with the concrete store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from clir_rag.store.matrix import VectorMatrix
from clir_rag.types import ScoredCandidate


@runtime_checkable
class VectorStore(Protocol):
    """Passages with their unit-length vectors and languages, searched by cosine similarity.

    Candidates returned carry the passage's ``doc_id``, ``text``, ``lang`` and ``title``, and
    in ``metadata`` the passage's own metadata plus ``passage_index``, ``start`` and ``end``
    (as :meth:`get` returns them).
    """

    def count(self) -> int:
        """How many passages are stored."""
        ...

    def matrix(self) -> VectorMatrix | None:
        """Every stored passage as rows for exact in-memory search, or None when the store keeps no such copy.

        A matrix returned holds one row per passage with a unit-length vector and is never
        changed afterwards: a change to the store gives a new matrix (the debiased retriever
        keeps values derived from one in its ``memo``). Its ids are passed to :meth:`get` for
        texts; an id removed since may be absent there. None makes the retrievers use
        :meth:`query` and :meth:`nearest_vectors` instead.
        """
        ...

    def query(self, embedding: np.ndarray, n: int, langs: Sequence[str] | None = None) -> list[ScoredCandidate]:
        """The ``n`` passages nearest to ``embedding``, nearest first, with ``score`` their cosine similarity.

        Only passages whose language is in ``langs`` count (None: all); fewer than ``n`` come
        back when fewer are stored, none when ``n`` <= 0 or the store is empty.
        """
        ...

    def nearest_vectors(
        self, embedding: np.ndarray, n: int, langs: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ids, vectors, langs)`` of the ``n`` passages nearest to ``embedding`` (only ``langs``; None: all).

        Nearest first; ``vectors`` has one float64 row per id. Fewer than ``n`` rows must mean
        that no other passage of those languages exists: the debiased retriever stops deepening
        its search on that, and its exactness depends on it.
        """
        ...

    def get(self, ids: Sequence[str]) -> dict[str, ScoredCandidate]:
        """The stored passages of ``ids`` by id, with score 0; ids not stored are absent."""
        ...

    def iter_passages(self, batch_size: int = 5000) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every stored ``(id, text, metadata)``; ``metadata`` holds ``lang`` and, when it has one, ``title``.

        The index rebuilds its BM25 sub-indexes from these; ``batch_size`` is how many a store
        reads at a time.
        """
        ...

"""Dense retrieval: a multilingual bi-encoder and nearest neighbours in the vector store.

Below the store's exact-search limit every passage is scored in memory (exact, deterministic,
and documents aggregated over all their passages); above it Chroma's HNSW index answers.
"""

from __future__ import annotations

import numpy as np

from clir_rag.embed.base import Encoder
from clir_rag.retrieve.aggregate import document_ranking
from clir_rag.retrieve.base import BaseRetriever
from clir_rag.store.base import VectorStore
from clir_rag.store.matrix import VectorMatrix
from clir_rag.types import Aggregation, Query, Ranking, ScoredCandidate


class DenseRetriever(BaseRetriever):
    """Cosine similarity between the query and passage embeddings (score in [-1, 1])."""

    name = "dense"

    def __init__(self, store: VectorStore, encoder: Encoder) -> None:
        self.store = store
        self.encoder = encoder

    def _retrieve(self, q: Query, k: int, langs: list[str] | None) -> Ranking:
        vec = self.encoder.encode_queries([q.text])[0]
        m = self.store.matrix()
        if m is None:
            hits = self.store.query(vec, k, langs)
        else:
            top = m.top(m.vectors @ _f32(vec), k, m.rows(langs), _exact_cosine(m, vec))
            hits = materialise(self.store, m, top)
        return Ranking.from_unsorted(q, hits, retriever=self.name)

    def _rank_documents(self, q: Query, k: int, method: Aggregation, langs: list[str] | None) -> Ranking | None:
        """Exact MaxP/FirstP over every stored passage; None where the store is too large to score in memory."""
        m = self.store.matrix()
        if m is None:
            return None
        vec = self.encoder.encode_queries([q.text])[0]
        best = m.top_documents(m.vectors @ _f32(vec), k, method, m.rows(langs), _exact_cosine(m, vec))
        return document_ranking(q, materialise(self.store, m, best), f"{self.name}+{method}")


def _f32(vec: np.ndarray) -> np.ndarray:
    return np.asarray(vec, dtype=np.float32)


def _exact_cosine(m: VectorMatrix, vec: np.ndarray):
    """Float64 scores of some rows: the float32 product over all rows only shortlists (see VectorMatrix.top)."""
    v = np.asarray(vec, dtype=np.float64)
    return lambda rows: m.vectors[rows].astype(np.float64) @ v


def materialise(
    store: VectorStore, m: VectorMatrix, top: list[tuple[int, float]], extra: dict[int, dict] | None = None
) -> list[ScoredCandidate]:
    """Candidates for ``(row, score)`` pairs: texts and metadata fetched for these rows only, order kept.

    A row whose passage was removed since the matrix was loaded (another writer) is skipped.
    """
    stored = store.get([str(m.ids[r]) for r, _ in top])
    out: list[ScoredCandidate] = []
    for r, score in top:
        c = stored.get(str(m.ids[r]))
        if c is None:
            continue
        c.score = score
        if extra and r in extra:
            c.metadata.update(extra[r])
        out.append(c)
    return out

"""Dense retrieval: a multilingual bi-encoder and nearest neighbours in the vector store."""

from __future__ import annotations

from collections.abc import Sequence

from clir_rag.embed.base import Encoder
from clir_rag.retrieve.base import as_langs, as_query
from clir_rag.store.chroma import ChromaStore
from clir_rag.types import Query, Ranking


class DenseRetriever:
    """Cosine similarity between the query and passage embeddings (score in [-1, 1])."""

    name = "dense"

    def __init__(self, store: ChromaStore, encoder: Encoder) -> None:
        self.store = store
        self.encoder = encoder

    def retrieve(self, query: Query | str, k: int = 10, *, langs: Sequence[str] | None = None) -> Ranking:
        q = as_query(query)
        vec = self.encoder.encode_queries([q.text])[0]
        hits = self.store.query(vec, k, as_langs(langs))
        return Ranking.from_unsorted(q, hits, retriever=self.name)

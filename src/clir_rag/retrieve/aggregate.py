"""From passages back to documents, for document-level relevance judgments (CLEF, CIRAL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from clir_rag.retrieve.base import Retriever, as_query
from clir_rag.types import Query, Ranking, ScoredCandidate

Aggregation = Literal["maxp", "firstp"]


def aggregate_passages(ranking: Ranking, method: Aggregation = "maxp") -> Ranking:
    """One candidate per document.

    ``maxp``: the document scores as its best passage (Dai & Callan, 2019).
    ``firstp``: the document scores as its first passage; documents whose first
    passage was not retrieved are dropped.
    """
    if method not in ("maxp", "firstp"):
        raise ValueError(f"unknown aggregation {method!r}: use 'maxp' or 'firstp'")
    best: dict[str, ScoredCandidate] = {}
    for cand in ranking.candidates:  # already best first, so the first seen is the max
        if method == "firstp" and cand.metadata.get("passage_index", 0) != 0:
            continue
        if cand.doc_id not in best:
            best[cand.doc_id] = cand.model_copy(
                update={"id": cand.doc_id, "metadata": {**cand.metadata, "passage_id": cand.id}}
            )
    return Ranking(
        query=ranking.query, candidates=list(best.values()), retriever=f"{ranking.retriever}+{method}", level="document"
    )


class DocumentRetriever:
    """Wrap a passage retriever to rank documents; asks for ``depth_factor`` x k passages."""

    def __init__(self, retriever: Retriever, method: Aggregation = "maxp", depth_factor: int = 5) -> None:
        self.retriever = retriever
        self.method = method
        self.depth_factor = depth_factor
        self.name = f"{retriever.name}+{method}"

    def retrieve(self, query: Query | str, k: int = 10, *, langs: Sequence[str] | None = None) -> Ranking:
        passages = self.retriever.retrieve(as_query(query), k * self.depth_factor, langs=langs)
        docs = aggregate_passages(passages, self.method)
        docs.candidates = docs.candidates[:k]
        return docs

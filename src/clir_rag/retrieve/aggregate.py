"""From passages back to documents, for document-level relevance judgments (CLEF, CIRAL)."""

from __future__ import annotations

from clir_rag.errors import InputError
from clir_rag.retrieve.base import BaseRetriever, Retriever
from clir_rag.retrieve.fusion import HybridRetriever
from clir_rag.types import AGGREGATIONS, Aggregation, Query, Ranking, ScoredCandidate


def check_aggregation(method: str) -> str:
    """``method`` if it is a passage aggregation (:data:`~clir_rag.types.AGGREGATIONS`); else InputError."""
    if method not in AGGREGATIONS:
        raise InputError(f"unknown aggregation {method!r}: use {' or '.join(repr(x) for x in AGGREGATIONS)}")
    return method


def document_ranking(query: Query, passages: list[ScoredCandidate], retriever: str) -> Ranking:
    """Best passages (one per document, best first) as a document-level ranking.

    What a retriever that ranks documents exactly itself (dense below the exact-search limit,
    BM25) returns: each candidate takes its document's id and keeps its passage's as ``passage_id``.
    """
    docs = [c.model_copy(update={"id": c.doc_id, "metadata": {**c.metadata, "passage_id": c.id}}) for c in passages]
    return Ranking(query=query, candidates=docs, retriever=retriever, level="document")


def aggregate_passages(ranking: Ranking, method: Aggregation = "maxp") -> Ranking:
    """One candidate per document.

    ``maxp``: the document scores as its best passage (Dai & Callan, 2019).
    ``firstp``: the document scores as its first passage; documents whose first
    passage was not retrieved are dropped.
    """
    check_aggregation(method)
    best: dict[str, ScoredCandidate] = {}
    for cand in ranking.candidates:  # already best first, so the first seen is the max
        if method == "firstp" and cand.metadata.get("passage_index", 0) != 0:
            continue
        if cand.doc_id not in best:
            best[cand.doc_id] = cand.model_copy(
                update={"id": cand.doc_id, "metadata": {**cand.metadata, "passage_id": cand.id}}
            )
    return Ranking(
        query=ranking.query,
        candidates=list(best.values()),
        retriever=f"{ranking.retriever}+{method}",
        level="document",
        metadata=ranking.metadata,
    )


class DocumentRetriever(BaseRetriever):
    """Rank documents by their passages (MaxP or FirstP), exactly.

    A retriever that can rank documents itself (the dense retrievers below the store's
    exact-search limit score every passage) does so. Otherwise passages are fetched
    ``depth_factor`` x k at a time, deeper (x4) until k distinct documents are found or the
    collection is exhausted: every document outside the fetched list has all its passages
    below the last one fetched, so the top k documents of the list are the top k overall.
    A :class:`~clir_rag.retrieve.fusion.HybridRetriever` fuses the document rankings of its
    members (each exact), not a truncated passage list.
    """

    def __init__(self, retriever: Retriever, method: Aggregation = "maxp", depth_factor: int = 5) -> None:
        check_aggregation(method)
        self.retriever = retriever
        self.method = method
        self.depth_factor = max(1, depth_factor)
        self.name = f"{retriever.name}+{method}"

    def _retrieve(self, q: Query, k: int, langs: list[str] | None) -> Ranking:
        if isinstance(self.retriever, HybridRetriever):
            hybrid = self.retriever
            depth = max(hybrid.depth, k)
            members = [DocumentRetriever(r, self.method, self.depth_factor) for r in hybrid.retrievers]
            return hybrid.fuse(q, [d.retrieve(q, depth, langs=langs) for d in members], k, level="document")
        exact = getattr(self.retriever, "rank_documents", None)
        if exact is not None:
            ranking = exact(q, k, self.method, langs=langs)
            if ranking is not None:
                return ranking
        n = k * self.depth_factor
        while True:
            passages = self.retriever.retrieve(q, n, langs=langs)
            docs = aggregate_passages(passages, self.method)
            if len(docs.candidates) >= k or len(passages.candidates) < n:
                break
            n *= 4
        docs.candidates = docs.candidates[:k]
        return docs

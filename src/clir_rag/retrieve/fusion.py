"""Fusing rankings: reciprocal rank fusion and weighted score fusion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from clir_rag.errors import InputError
from clir_rag.retrieve.base import BaseRetriever, Retriever
from clir_rag.types import Query, Ranking, ScoredCandidate

FusionMethod = Literal["rrf", "weighted"]


def reciprocal_rank_fusion(
    rankings: Sequence[Ranking], k: int = 60, weights: Sequence[float] | None = None
) -> list[ScoredCandidate]:
    """RRF (Cormack et al., 2009): score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1."""
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    scores: dict[str, float] = {}
    first: dict[str, ScoredCandidate] = {}
    for w, ranking in zip(weights, rankings, strict=True):
        for rank, cand in enumerate(ranking.candidates, start=1):
            scores[cand.id] = scores.get(cand.id, 0.0) + w / (k + rank)
            first.setdefault(cand.id, cand)
    return [first[i].model_copy(update={"score": s}) for i, s in scores.items()]


def weighted_score_fusion(rankings: Sequence[Ranking], weights: Sequence[float] | None = None) -> list[ScoredCandidate]:
    """Sum of min-max normalised scores, weighted; a candidate missing from a ranking gets 0 there."""
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    scores: dict[str, float] = {}
    first: dict[str, ScoredCandidate] = {}
    for w, ranking in zip(weights, rankings, strict=True):
        if not ranking.candidates:
            continue
        vals = [c.score for c in ranking.candidates]
        lo, hi = min(vals), max(vals)
        span = hi - lo
        for cand in ranking.candidates:
            norm = (cand.score - lo) / span if span > 0 else 1.0
            scores[cand.id] = scores.get(cand.id, 0.0) + w * norm
            first.setdefault(cand.id, cand)
    return [first[i].model_copy(update={"score": s}) for i, s in scores.items()]


class HybridRetriever(BaseRetriever):
    """Fuse several retrievers (by default dense + BM25), each asked for ``depth`` candidates."""

    def __init__(
        self,
        retrievers: Sequence[Retriever],
        *,
        method: FusionMethod = "rrf",
        weights: Sequence[float] | None = None,
        rrf_k: int = 60,
        depth: int = 100,
    ) -> None:
        if not retrievers:
            raise InputError("HybridRetriever needs at least one retriever")
        if weights is not None and len(weights) != len(retrievers):
            raise InputError(f"{len(weights)} weights for {len(retrievers)} retrievers")
        if method not in ("rrf", "weighted"):
            raise InputError(f"unknown fusion method {method!r}: use 'rrf' or 'weighted'")
        self.retrievers = list(retrievers)
        self.method = method
        self.weights = list(weights) if weights is not None else None
        self.rrf_k = rrf_k
        self.depth = depth
        self.name = f"hybrid-{method}(" + "+".join(r.name for r in self.retrievers) + ")"

    def _retrieve(self, q: Query, k: int, langs: list[str] | None) -> Ranking:
        depth = max(self.depth, k)
        return self.fuse(q, [r.retrieve(q, depth, langs=langs) for r in self.retrievers], k)

    def fuse(self, query: Query, rankings: Sequence[Ranking], k: int, *, level: str = "passage") -> Ranking:
        """The fused top ``k`` of rankings from this hybrid's retrievers (in their order)."""
        if self.method == "rrf":
            fused = reciprocal_rank_fusion(rankings, self.rrf_k, self.weights)
        else:
            fused = weighted_score_fusion(rankings, self.weights)
        name = self.name if level == "passage" else f"{self.name}+{rankings[0].retriever.rsplit('+', 1)[-1]}"
        ranking = Ranking.from_unsorted(query, fused, retriever=name, level=level)
        ranking.candidates = ranking.candidates[:k]
        return ranking

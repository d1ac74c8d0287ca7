"""What every reranker returns: a reordered ranking with honest scores, and a report of what happened."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from clir_rag.llm.usage import Usage
from clir_rag.types import Query, Ranking, ScoredCandidate

_MARKER = re.compile(r"\[(\d+)\]")
MAX_PROBLEMS_KEPT = 20


@dataclass
class RerankReport:
    """Outcome counts and costs of reranking one query (or, merged, a run)."""

    reranker: str
    queries: int = 1
    windows_ok: int = 0
    windows_repaired: int = 0
    windows_failed: int = 0
    comparisons: int = 0
    comparison_failures: int = 0  # single-order answers that could not be read or did not come
    ties: int = 0
    usage: Usage = field(default_factory=Usage)
    problems: list[str] = field(default_factory=list)

    def note(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(problem)

    @property
    def failures(self) -> int:
        return self.windows_failed + self.comparison_failures

    def merge(self, other: RerankReport) -> None:
        for name in (
            "queries",
            "windows_ok",
            "windows_repaired",
            "windows_failed",
            "comparisons",
            "comparison_failures",
            "ties",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.usage.merge(other.usage)
        for p in other.problems:
            self.note(p)


@dataclass
class RerankResult:
    ranking: Ranking
    report: RerankReport


class Reranker(Protocol):
    name: str

    def rerank(self, ranking: Ranking, query: Query | None = None) -> RerankResult: ...

    async def arerank(self, ranking: Ranking, query: Query | None = None) -> RerankResult: ...


def neutralise_markers(text: str) -> str:
    """``[3]`` inside a passage would read as a passage identifier; make it ``(3)``."""
    return _MARKER.sub(r"(\1)", text)


def apply_order(ranking: Ranking, order: Sequence[int], reranker: str) -> Ranking:
    """Put ``ranking.candidates[order[i]]`` at rank i; candidates not in ``order`` follow in their old order.

    New scores are strictly decreasing (n, n-1, ..., 1) so that they agree with the new
    order; the first-stage score and rank stay in metadata.
    """
    cands = ranking.candidates
    seen = set(order)
    full = list(order) + [i for i in range(len(cands)) if i not in seen]
    n = len(full)
    out: list[ScoredCandidate] = []
    for new_rank, i in enumerate(full):
        c = cands[i]
        meta = dict(c.metadata)
        meta.setdefault("first_stage_score", c.score)
        meta.setdefault("first_stage_rank", i + 1)
        out.append(c.model_copy(update={"score": float(n - new_rank), "metadata": meta}))
    return Ranking(
        query=ranking.query, candidates=out, retriever=f"{ranking.retriever}>{reranker}", level=ranking.level
    )

"""What every reranker returns: a reordered ranking with honest scores, and a report of what happened."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from clir_rag.errors import LLMError
from clir_rag.llm.base import LLM, Message
from clir_rag.llm.client import LLMClient
from clir_rag.llm.usage import Usage
from clir_rag.outcome import Outcome
from clir_rag.types import Query, Ranking, ScoredCandidate

T = TypeVar("T")

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
        """Keep ``problem`` (the first :data:`MAX_PROBLEMS_KEPT` of a run are kept; all are counted elsewhere)."""
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(problem)

    @property
    def attempts(self) -> int:
        """Answers asked for: one per window, two per comparison (both presentation orders)."""
        return self.windows_ok + self.windows_repaired + self.windows_failed + 2 * self.comparisons

    @property
    def failed_ratio(self) -> float:
        """Share of :attr:`attempts` whose answer could not be used (0 when nothing was asked)."""
        return self.outcome.failed_ratio

    @property
    def outcome(self) -> Outcome:
        """:attr:`failures` of :attr:`attempts`, for the run-level rule of :mod:`clir_rag.outcome`."""
        return Outcome(failed=self.failures, total=self.attempts)

    @property
    def failures(self) -> int:
        """Windows and comparisons whose answer could not be used."""
        return self.windows_failed + self.comparison_failures

    def summary(self) -> dict[str, Any]:
        """The counts a caller shows or logs (and the framework adapters attach to each result), as plain values."""
        return {
            "reranker": self.reranker,
            "queries": self.queries,
            "llm_calls": self.usage.calls,
            "cache_hits": self.usage.cache_hits,
            "attempts": self.attempts,
            "failures": self.failures,
            "windows": self.windows_ok + self.windows_repaired + self.windows_failed,
            "comparisons": self.comparisons,
            "problems": list(self.problems),
        }

    def merge(self, other: RerankReport) -> None:
        """Add ``other``'s counts, usage and problems to this report (to total a run over its queries)."""
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
    """A reranked ranking (scores strictly decreasing, first-stage score and rank in metadata) and its report."""

    ranking: Ranking
    report: RerankReport


class Reranker(Protocol):
    """What a reranker implements; :class:`LLMReranker` holds the machinery an LLM-based one shares."""

    name: str

    def rerank(self, ranking: Ranking, query: Query | None = None) -> RerankResult:
        """Reorder ``ranking`` for ``query`` (default: the ranking's own query).

        Never raises for a bad or failed LLM answer: the affected part keeps its
        order and the report counts it. Raises
        :class:`~clir_rag.errors.InputError` for settings that cannot work
        (a window that does not fit the model's context).
        """
        ...

    async def arerank(self, ranking: Ranking, query: Query | None = None) -> RerankResult:
        """The same as :meth:`rerank`, awaiting the LLM (many queries can rerank concurrently)."""
        ...


@dataclass
class LLMCall:
    """One request a reranking step makes: generate up to ``max_tokens``, or score ``labels`` when given."""

    messages: list[Message]
    max_tokens: int = 8
    labels: Sequence[str] | None = None


@dataclass
class LLMReply:
    """The answer to an :class:`LLMCall`: generated ``text`` or label ``scores``, or the ``error`` it failed with."""

    text: str = ""
    scores: dict[str, float] | None = None
    error: str | None = None


# A reranking procedure written once: it yields the calls it needs and receives their replies.
# _run drives it with blocking calls, _arun with awaited ones, so sync and async cannot drift apart.
Steps = Generator[LLMCall, LLMReply, T]


class LLMReranker:
    """Base of the LLM rerankers: the client, calls that never raise for an LLM failure, sync and async drivers.

    A subclass writes its procedure once, as a generator of :class:`LLMCall` (see
    :data:`Steps`), and gets both :meth:`_run` and :meth:`_arun` for it.
    """

    name: str = "llm"

    def __init__(self, llm: LLMClient | LLM) -> None:
        self.client = llm if isinstance(llm, LLMClient) else LLMClient(llm)

    def _call(self, call: LLMCall, report: RerankReport) -> LLMReply:
        try:
            if call.labels is not None:
                return LLMReply(scores=self.client.score_labels(call.messages, call.labels, usage=report.usage))
            out = self.client.generate(call.messages, max_tokens=call.max_tokens, usage=report.usage)
            return LLMReply(text=out.text)
        except LLMError as e:
            return LLMReply(error=str(e))

    async def _acall(self, call: LLMCall, report: RerankReport) -> LLMReply:
        try:
            if call.labels is not None:
                scores = await self.client.ascore_labels(call.messages, call.labels, usage=report.usage)
                return LLMReply(scores=scores)
            out = await self.client.agenerate(call.messages, max_tokens=call.max_tokens, usage=report.usage)
            return LLMReply(text=out.text)
        except LLMError as e:
            return LLMReply(error=str(e))

    def _run(self, steps: Steps[T], report: RerankReport) -> T:
        try:
            call = next(steps)
            while True:
                call = steps.send(self._call(call, report))
        except StopIteration as done:
            return done.value

    async def _arun(self, steps: Steps[T], report: RerankReport) -> T:
        try:
            call = next(steps)
            while True:
                call = steps.send(await self._acall(call, report))
        except StopIteration as done:
            return done.value

    def _report(self) -> RerankReport:
        return RerankReport(self.name, usage=Usage())

    async def arerank_many(self, rankings: Sequence[Ranking]) -> list[RerankResult]:
        """Rerank many rankings concurrently (within the client's concurrency limit), in order."""
        return list(await asyncio.gather(*(self.arerank(r) for r in rankings)))

    async def arerank(self, ranking: Ranking, query: Query | None = None) -> RerankResult:  # pragma: no cover
        """See :meth:`Reranker.arerank`; subclasses implement it."""
        raise NotImplementedError


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

"""Pairwise LLM reranking (PRP, Qin et al. 2024): all-pairs, bubble-sort passes, heap top-k.

Every comparison asks both presentation orders, (A=a, B=b) and (A=b, B=a),
because LLMs favour one position; when the two answers disagree the pair is
a tie. An answer that cannot be read (or a call that fails) is counted and
leaves only the other order's vote; with no vote at all the pair is a tie,
so a bad answer never stops the query.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from typing import Literal

from clir_rag.chunk.chunker import truncate_to_tokens
from clir_rag.errors import InputError, LLMError
from clir_rag.llm.base import LLM, Message
from clir_rag.llm.client import LLMClient
from clir_rag.llm.usage import Usage
from clir_rag.rerank import prompts
from clir_rag.rerank.algorithms import MemoCompare, all_pairs, bubble_passes, tournament_top_k
from clir_rag.rerank.base import RerankReport, RerankResult, apply_order
from clir_rag.types import Query, Ranking

Method = Literal["allpairs", "bubble", "heap"]
Mode = Literal["generate", "logprob", "auto"]

_PASSAGE_LABEL = re.compile(r"passage\s*[:\-]?\s*\(?([ab])\b", re.I)
_BARE_LABEL = re.compile(r"^\W*([ab])\b", re.I)


def read_choice(text: str) -> str | None:
    """'A', 'B' or None from a generated answer ("Passage B", "B.", "**Passage A** is ...")."""
    m = _PASSAGE_LABEL.search(text or "") or _BARE_LABEL.search(text or "")
    return m.group(1).upper() if m else None


class PairwiseReranker:
    """PRP reranker.

    ``method``: ``heap`` (tournament heap, top ``top_k`` over ``depth``; the cheapest),
    ``bubble`` (``passes`` bubble-sort passes from the bottom over ``depth``, early stop;
    the paper's setting), ``allpairs`` (every pair over ``depth``; use a small depth).
    ``mode``: ``logprob`` compares the log-probabilities of "Passage A" and "Passage B"
    (needs a backend that scores labels), ``generate`` reads the generated answer,
    ``auto`` picks log-probs where available.
    """

    def __init__(
        self,
        llm: LLMClient | LLM,
        *,
        method: Method = "heap",
        mode: Mode = "auto",
        depth: int = 100,
        passes: int = 10,
        top_k: int = 10,
        max_passage_tokens: int = 200,
        prompt: str = prompts.PAIRWISE_USER,
    ) -> None:
        self.client = llm if isinstance(llm, LLMClient) else LLMClient(llm)
        if method not in ("allpairs", "bubble", "heap"):
            raise InputError(f"unknown method {method!r}: use 'allpairs', 'bubble' or 'heap'")
        if mode == "auto":
            mode = "logprob" if self.client.supports_label_scores else "generate"
        if mode == "logprob" and not self.client.supports_label_scores:
            raise InputError(f"backend {self.client.llm.backend!r} cannot score labels; use mode='generate'")
        self.method, self.mode = method, mode
        self.depth, self.passes, self.top_k = depth, passes, top_k
        self.max_passage_tokens = max_passage_tokens
        self.prompt = prompt
        self.name = f"pairwise-{method}"

    def build_messages(self, query: str, passage_a: str, passage_b: str) -> list[Message]:
        """The comparison prompt, each passage cut so that the whole fits the model's context."""
        count = self.client.count_tokens
        fixed = count(self.prompt.format(query=query, passage_a="", passage_b="")) + 32  # + reply and template
        per_passage = min(self.max_passage_tokens, (self.client.llm.context_window - fixed) // 2)
        if per_passage < 16:
            raise InputError(
                f"a comparison prompt does not fit a {self.client.llm.context_window}-token context; "
                "use a model with a longer context"
            )
        cut = [truncate_to_tokens(" ".join(p.split()), per_passage, count) for p in (passage_a, passage_b)]
        return [{"role": "user", "content": self.prompt.format(query=query, passage_a=cut[0], passage_b=cut[1])}]

    # -- one presentation order: returns 'A', 'B' or None ---------------------------

    def _vote(self, report: RerankReport, query: str, a: str, b: str) -> str | None:
        messages = self.build_messages(query, a, b)
        try:
            if self.mode == "logprob":
                scores = self.client.score_labels(messages, prompts.PAIRWISE_LABELS, usage=report.usage)
                return _from_scores(report, scores)
            out = self.client.generate(messages, max_tokens=8, usage=report.usage)
            return _from_text(report, out.text)
        except LLMError as e:
            report.comparison_failures += 1
            report.note(f"comparison failed: {e}")
            return None

    async def _avote(self, report: RerankReport, query: str, a: str, b: str) -> str | None:
        messages = self.build_messages(query, a, b)
        try:
            if self.mode == "logprob":
                scores = await self.client.ascore_labels(messages, prompts.PAIRWISE_LABELS, usage=report.usage)
                return _from_scores(report, scores)
            out = await self.client.agenerate(messages, max_tokens=8, usage=report.usage)
            return _from_text(report, out.text)
        except LLMError as e:
            report.comparison_failures += 1
            report.note(f"comparison failed: {e}")
            return None

    @staticmethod
    def _combine(report: RerankReport, first: str | None, second: str | None) -> float:
        """Probability-like score that the passage shown first in ``first``'s order is better."""
        report.comparisons += 1
        votes = []
        if first is not None:
            votes.append(1.0 if first == "A" else 0.0)
        if second is not None:  # in the swapped order, "B" is our passage
            votes.append(1.0 if second == "B" else 0.0)
        if not votes or (len(votes) == 2 and votes[0] != votes[1]):
            report.ties += 1
            return 0.5
        return votes[0]

    # -- reranking ----------------------------------------------------------------

    def _order(self, n: int, compare: MemoCompare) -> list[int]:
        if self.method == "allpairs":
            return all_pairs(n, compare)
        if self.method == "bubble":
            return bubble_passes(n, compare, self.passes)
        return tournament_top_k(n, compare, self.top_k)

    def rerank(self, ranking: Ranking, query: Query | None = None) -> RerankResult:
        q = (query or ranking.query).text
        report = RerankReport(self.name, usage=Usage())
        texts = [c.text for c in ranking.candidates[: self.depth]]

        def compare(i: int, j: int) -> float:
            return self._combine(
                report, self._vote(report, q, texts[i], texts[j]), self._vote(report, q, texts[j], texts[i])
            )

        order = self._order(len(texts), MemoCompare(compare))
        return RerankResult(apply_order(ranking, order, self.name), report)

    async def arerank(self, ranking: Ranking, query: Query | None = None) -> RerankResult:
        """Both orders of a comparison run concurrently; all-pairs runs every comparison concurrently.

        Bubble and heap comparisons depend on earlier outcomes, so within a query they
        run one pair at a time; many queries rerank concurrently.
        """
        q = (query or ranking.query).text
        report = RerankReport(self.name, usage=Usage())
        texts = [c.text for c in ranking.candidates[: self.depth]]
        n = len(texts)

        async def acompare(i: int, j: int) -> float:
            first, second = await asyncio.gather(
                self._avote(report, q, texts[i], texts[j]), self._avote(report, q, texts[j], texts[i])
            )
            return self._combine(report, first, second)

        if self.method == "allpairs":
            pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
            results = await asyncio.gather(*(acompare(i, j) for i, j in pairs))
            known = dict(zip(pairs, results, strict=True))
            order = all_pairs(n, lambda i, j: known[(i, j)])
        else:
            # Sequential algorithms: precompute nothing; run them in a worker thread whose
            # comparisons hop back onto this loop.
            loop = asyncio.get_running_loop()

            def compare(i: int, j: int) -> float:
                return asyncio.run_coroutine_threadsafe(acompare(i, j), loop).result()

            order = await asyncio.to_thread(self._order, n, MemoCompare(compare))
        return RerankResult(apply_order(ranking, order, self.name), report)

    async def arerank_many(self, rankings: Sequence[Ranking]) -> list[RerankResult]:
        return list(await asyncio.gather(*(self.arerank(r) for r in rankings)))


def _from_text(report: RerankReport, text: str) -> str | None:
    choice = read_choice(text)
    if choice is None:
        report.comparison_failures += 1
        report.note(f"unreadable comparison answer: {text[:60]!r}")
    return choice


def _from_scores(report: RerankReport, scores: dict[str, float]) -> str | None:
    a, b = (scores.get(label, -math.inf) for label in prompts.PAIRWISE_LABELS)
    if a == b == -math.inf:
        report.comparison_failures += 1
        report.note("no log-probability for either label")
        return None
    return "A" if a >= b else "B"

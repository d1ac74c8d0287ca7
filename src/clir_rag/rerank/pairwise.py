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
from typing import Literal

from clir_rag.chunk.chunker import truncate_to_tokens
from clir_rag.errors import InputError
from clir_rag.llm.base import LLM, Message
from clir_rag.llm.client import LLMClient
from clir_rag.rerank import prompts
from clir_rag.rerank.algorithms import MemoCompare, all_pairs, bubble_passes, tournament_top_k
from clir_rag.rerank.base import LLMCall, LLMReply, LLMReranker, RerankReport, RerankResult, apply_order
from clir_rag.rerank.prompts import MIN_PASSAGE_TOKENS
from clir_rag.types import Query, Ranking

Method = Literal["allpairs", "bubble", "heap"]
Mode = Literal["generate", "logprob", "auto"]

_PASSAGE_LABEL = re.compile(r"passage\s*[:\-]?\s*\(?([ab])\b", re.I)
_BARE_LABEL = re.compile(r"^\W*([ab])\b", re.I)


def read_choice(text: str) -> str | None:
    """'A', 'B' or None from a generated answer ("Passage B", "B.", "**Passage A** is ...")."""
    m = _PASSAGE_LABEL.search(text or "") or _BARE_LABEL.search(text or "")
    return m.group(1).upper() if m else None


class PairwiseReranker(LLMReranker):
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
        super().__init__(llm)
        if method not in ("allpairs", "bubble", "heap"):
            raise InputError(f"unknown method {method!r}: use 'allpairs', 'bubble' or 'heap'")
        if mode == "auto":
            mode = "logprob" if self.client.supports_label_scores else "generate"
        if mode == "logprob" and not self.client.supports_label_scores:
            raise InputError(f"backend {self.client.llm.backend!r} cannot score labels; use mode='generate'")
        self.method, self.mode = method, mode
        self.depth, self.passes, self.top_k = depth, passes, top_k
        if max_passage_tokens < MIN_PASSAGE_TOKENS:
            raise InputError(f"max_passage_tokens must be at least {MIN_PASSAGE_TOKENS}, got {max_passage_tokens}")
        self.max_passage_tokens = max_passage_tokens
        self.prompt = prompts.check_template(prompt, "pairwise prompt")
        self.name = f"pairwise-{method}"

    def build_messages(self, query: str, passage_a: str, passage_b: str) -> list[Message]:
        """The comparison prompt, each passage cut so that the whole fits the model's context."""
        count = self.client.count_tokens
        fixed = count(self.prompt.format(query=query, passage_a="", passage_b="")) + 32  # + reply and template
        per_passage = min(self.max_passage_tokens, (self.client.llm.context_window - fixed) // 2)
        if per_passage < MIN_PASSAGE_TOKENS:
            raise InputError(
                f"a comparison prompt does not fit a {self.client.llm.context_window}-token context; "
                "use a model with a longer context"
            )
        cut = [truncate_to_tokens(" ".join(p.split()), per_passage, count) for p in (passage_a, passage_b)]
        return [{"role": "user", "content": self.prompt.format(query=query, passage_a=cut[0], passage_b=cut[1])}]

    # -- one presentation order: returns 'A', 'B' or None ---------------------------

    def _ask(self, query: str, a: str, b: str) -> LLMCall:
        messages = self.build_messages(query, a, b)
        return LLMCall(messages, labels=prompts.PAIRWISE_LABELS if self.mode == "logprob" else None)

    def _vote(self, report: RerankReport, query: str, a: str, b: str) -> str | None:
        return _read_vote(report, self._call(self._ask(query, a, b), report))

    async def _avote(self, report: RerankReport, query: str, a: str, b: str) -> str | None:
        return _read_vote(report, await self._acall(self._ask(query, a, b), report))

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
        """See :meth:`clir_rag.rerank.Reranker.rerank`; a comparison without a readable vote is a tie."""
        q = (query or ranking.query).text
        report = self._report()
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
        report = self._report()
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


def _read_vote(report: RerankReport, reply: LLMReply) -> str | None:
    """'A', 'B' or None (counted as a failed comparison) from one presentation order's reply."""
    if reply.error is not None:
        report.comparison_failures += 1
        report.note(f"comparison failed: {reply.error}")
        return None
    if reply.scores is not None:
        a, b = (reply.scores.get(label, -math.inf) for label in prompts.PAIRWISE_LABELS)
        if a == b == -math.inf:
            report.comparison_failures += 1
            report.note("no log-probability for either label")
            return None
        return "A" if a >= b else "B"
    choice = read_choice(reply.text)
    if choice is None:
        report.comparison_failures += 1
        report.note(f"unreadable comparison answer: {reply.text[:60]!r}")
    return choice

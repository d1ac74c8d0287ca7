"""Listwise LLM reranking (RankGPT / RankZephyr style) with a sliding window."""

from __future__ import annotations

from collections.abc import Sequence

from clir_rag.chunk.chunker import truncate_to_tokens
from clir_rag.errors import InputError
from clir_rag.llm.base import LLM, Message
from clir_rag.llm.client import LLMClient
from clir_rag.rerank import prompts
from clir_rag.rerank.algorithms import sliding_windows
from clir_rag.rerank.base import (
    LLMCall,
    LLMReply,
    LLMReranker,
    RerankReport,
    RerankResult,
    Steps,
    apply_order,
    neutralise_markers,
)
from clir_rag.rerank.permutation import parse_permutation
from clir_rag.rerank.prompts import MIN_PASSAGE_TOKENS
from clir_rag.types import Query, Ranking


class ListwiseReranker(LLMReranker):
    """Rerank the top ``depth`` candidates with windows of ``window`` passages moved up by ``step``.

    Passages are cut to fit the model's context (at most ``max_passage_tokens``
    each, fewer when the window would not fit). Each window's answer is parsed
    forgivingly; a failed window (error, no ranking) keeps its order and is counted.
    """

    name = "listwise"

    def __init__(
        self,
        llm: LLMClient | LLM,
        *,
        window: int = 20,
        step: int = 10,
        depth: int = 100,
        max_passage_tokens: int = 300,
        system_prompt: str = prompts.LISTWISE_SYSTEM,
        user_prompt: str = prompts.LISTWISE_USER,
        passage_template: str = prompts.LISTWISE_PASSAGE,
    ) -> None:
        super().__init__(llm)
        list(sliding_windows(window, window, step))  # validates window and step
        if depth < 1:
            raise InputError(f"depth must be >= 1, got {depth}")
        self.window, self.step, self.depth = window, step, depth
        if max_passage_tokens < MIN_PASSAGE_TOKENS:
            raise InputError(f"max_passage_tokens must be at least {MIN_PASSAGE_TOKENS}, got {max_passage_tokens}")
        self.max_passage_tokens = max_passage_tokens
        self.system_prompt = system_prompt
        self.user_prompt = prompts.check_template(user_prompt, "listwise user prompt")
        self.passage_template = prompts.check_template(passage_template, "listwise passage template")

    def _max_new_tokens(self, n: int) -> int:
        # "[12] > " is about 5 tokens; leave room for a little chatter.
        return 6 * n + 16

    def build_messages(self, query: str, texts: Sequence[str]) -> list[Message]:
        """The prompt for one window, passages truncated so the whole fits the context window."""
        count = self.client.count_tokens
        n = len(texts)
        skeleton = self.system_prompt + self.user_prompt.format(num=n, query=query, passages="")
        fixed = count(skeleton) + n * (count(self.passage_template.format(id=n, text="")) + 1) + 32
        room = self.client.llm.context_window - self._max_new_tokens(n) - fixed
        per_passage = min(self.max_passage_tokens, room // max(n, 1))
        if per_passage < MIN_PASSAGE_TOKENS:
            raise InputError(
                f"a window of {n} passages does not fit a {self.client.llm.context_window}-token context; "
                "use a smaller window or a model with a longer context"
            )
        passages = "\n".join(
            self.passage_template.format(
                id=i + 1, text=truncate_to_tokens(" ".join(neutralise_markers(t).split()), per_passage, count)
            )
            for i, t in enumerate(texts)
        )
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": self.user_prompt.format(num=n, query=query, passages=passages)},
        ]

    def _apply(self, report: RerankReport, part: list[int], reply: LLMReply) -> list[int]:
        if reply.error is not None:
            report.windows_failed += 1
            report.note(f"window failed: {reply.error}")
            return part
        parsed = parse_permutation(reply.text, len(part))
        if parsed.outcome == "ok":
            report.windows_ok += 1
        elif parsed.outcome == "repaired":
            report.windows_repaired += 1
        else:
            report.windows_failed += 1
        if parsed.problems:
            report.note(f"window {parsed.outcome}: {'; '.join(parsed.problems)}")
        return [part[j] for j in parsed.order]

    def _steps(self, ranking: Ranking, query: Query | None, report: RerankReport) -> Steps[list[int]]:
        """The sliding window from the bottom up: one call per window, each window seeing the last one's order."""
        q = (query or ranking.query).text
        d = min(self.depth, len(ranking.candidates))
        order = list(range(d))
        for start, end in sliding_windows(d, self.window, self.step):
            part = order[start:end]
            messages = self.build_messages(q, [ranking.candidates[i].text for i in part])
            reply = yield LLMCall(messages, max_tokens=self._max_new_tokens(len(part)))
            order[start:end] = self._apply(report, part, reply)
        return order

    def rerank(self, ranking: Ranking, query: Query | None = None) -> RerankResult:
        """See :meth:`clir_rag.rerank.Reranker.rerank`; a failed window keeps its order and is counted."""
        report = self._report()
        order = self._run(self._steps(ranking, query, report), report)
        return RerankResult(apply_order(ranking, order, self.name), report)

    async def arerank(self, ranking: Ranking, query: Query | None = None) -> RerankResult:
        """Windows of one query depend on each other; many queries rerank concurrently."""
        report = self._report()
        order = await self._arun(self._steps(ranking, query, report), report)
        return RerankResult(apply_order(ranking, order, self.name), report)

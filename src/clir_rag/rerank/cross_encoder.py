"""A cross-encoder rerank stage: any sentence-transformers ``CrossEncoder`` behind the reranker protocol.

A cross-encoder reads the query and one passage together and gives a relevance
score; reranking is one batched forward pass over the top ``depth`` candidates.
Unlike the LLM rerankers it has no answers to parse and no calls that fail
one by one, so its report counts queries and truncated passages only.

The model reads ``[CLS] query [SEP] passage [SEP]`` up to its ``max_length``.
Left to the tokenizer, a long passage would be cut mid-word (mid-character in
Thai or Chinese); here it is cut before the model sees it, at whole words (whole
characters where a script has no spaces), counted exactly with the model's own
tokenizer, so that the query is never the part that is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clir_rag.chunk.chunker import truncate_to_tokens
from clir_rag.errors import InputError, missing_extra
from clir_rag.llm.usage import Usage
from clir_rag.rerank.base import RerankReport, RerankResult, apply_order
from clir_rag.types import Query, Ranking

DEFAULT_MAX_LENGTH = 512


class CrossEncoderReranker:
    """Rerank the top ``depth`` candidates with a cross-encoder (a directory, a hub id, or a loaded model).

    ``model`` is anything ``sentence_transformers.CrossEncoder`` loads (a model trained with
    ``clir-rag train``, a multilingual MiniLM or BGE reranker from the hub) or such an object.
    Candidates are scored in batches of ``batch_size``; ties keep the first-stage order.
    The reranked scores are n..1 as for every reranker; the model's score is kept in each
    candidate's metadata as ``cross_encoder_score``, with the first-stage score and rank.
    """

    name = "cross-encoder"

    def __init__(
        self,
        model: str | Path | Any,
        *,
        depth: int = 100,
        batch_size: int = 16,
        max_length: int | None = None,
        device: str | None = None,
    ) -> None:
        if depth < 1 or batch_size < 1:
            raise InputError(f"depth and batch_size must be at least 1, got {depth} and {batch_size}")
        if isinstance(model, str | Path):
            model = _load(str(model), device)
        self.model = model
        self.depth = depth
        self.batch_size = batch_size
        tokenizer = model.tokenizer
        self.max_length = int(max_length or getattr(model, "max_length", None) or DEFAULT_MAX_LENGTH)
        self._tokenizer = tokenizer
        # [CLS] q [SEP] p [SEP] for BERT-like models, <s> q </s></s> p </s> for XLM-R: ask the tokenizer
        self._specials = len(tokenizer("a", "b")["input_ids"]) - self._count("a") - self._count("b")

    def _count(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _pairs(self, query: str, passages: Sequence[str]) -> tuple[list[tuple[str, str]], int]:
        """(query, passage) pairs that fit ``max_length`` whole, and how many passages were cut to fit."""
        budget = self.max_length - self._specials
        q = truncate_to_tokens(query, budget // 2, self._count) if self._count(query) > budget // 2 else query
        room = budget - self._count(q)
        pairs, cut = [], 0
        for text in passages:
            if self._count(text) > room:
                text = truncate_to_tokens(text, room, self._count)
                cut += 1
            pairs.append((q, text))
        return pairs, cut

    def rerank(self, ranking: Ranking, query: Query | None = None) -> RerankResult:
        """See :meth:`clir_rag.rerank.Reranker.rerank`: one batched pass over the top ``depth``."""
        q = query or ranking.query
        if q is None or not q.text.strip():
            raise InputError("cross-encoder reranking needs the query's text")
        head = ranking.candidates[: self.depth]
        empty = [c.id for c in head if not (c.text or "").strip()]
        if empty:
            raise InputError(
                f"candidate {empty[0]!r} has no text to rerank ({len(empty)} such in the top {self.depth})"
            )
        report = RerankReport(self.name, usage=Usage())
        if not head:
            return RerankResult(apply_order(ranking, [], self.name), report)
        pairs, cut = self._pairs(q.text, [c.text or "" for c in head])
        if cut:
            report.note(f"{cut} of {len(head)} passages cut to {self.max_length} tokens with the query")
        scores = np.asarray(
            self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False), dtype=np.float64
        ).reshape(-1)
        order = sorted(range(len(head)), key=lambda i: (-scores[i], i))  # ties: first-stage order
        out = apply_order(ranking, order, self.name)
        for c, i in zip(out.candidates, order, strict=False):  # apply_order put head[order[r]] at rank r
            c.metadata["cross_encoder_score"] = float(scores[i])
        return RerankResult(out, report)

    async def arerank(self, ranking: Ranking, query: Query | None = None) -> RerankResult:
        """See :meth:`rerank`; the forward pass runs in a worker thread so the event loop stays free."""
        return await asyncio.to_thread(self.rerank, ranking, query)


def _load(spec: str, device: str | None) -> Any:
    try:
        from sentence_transformers import CrossEncoder
    except ImportError as e:
        raise missing_extra("the cross-encoder reranker", "st", e) from e
    path = Path(spec).expanduser()
    if path.exists() and not (path / "config.json").exists():
        raise InputError(f"{spec}: not a model directory (no config.json)")
    # a directory is read as is; a hub id downloads (users have internet; tests here use directories)
    try:
        return CrossEncoder(str(path) if path.exists() else spec, device=device)
    except (OSError, ValueError) as e:  # not found locally nor on the hub, or not a model
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"{spec}: cannot load a cross-encoder ({first})") from None

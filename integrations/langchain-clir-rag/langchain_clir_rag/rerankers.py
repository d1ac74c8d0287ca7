"""clir-rag's rerankers (LLM listwise and pairwise, cross-encoder) as LangChain document compressors."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from langchain_core.callbacks import Callbacks
from langchain_core.documents import Document
from langchain_core.documents.compressor import BaseDocumentCompressor
from pydantic import ConfigDict, Field, PrivateAttr

from clir_rag.llm import LLMClient
from clir_rag.rerank import ListwiseReranker, PairwiseReranker, Reranker, RerankReport
from clir_rag.types import Query, Ranking, ScoredCandidate
from langchain_clir_rag._clients import ClientFor


class _Reranker(BaseDocumentCompressor):
    """What every compressor shares: document conversion, first-stage provenance, sync and async calls.

    Documents come back best first, at most ``top_n``, each with ``first_stage_rank`` and
    ``first_stage_score`` in its metadata (kept from an earlier stage where present, so stacked
    rerankers report the first stage's order) and ``rerank_score``. The reranker's report goes
    into each returned document's ``rerank_report`` metadata, per call, so concurrent calls
    never share it.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    top_n: int | None = Field(None, ge=1, description="documents kept after reranking (None: all)")
    depth: int = Field(20, ge=1, description="rerank this many; the rest keep their order")

    def _reranker(self) -> Reranker:  # pragma: no cover - each subclass builds its own
        raise NotImplementedError

    def _ranking(self, documents: Sequence[Document], query: str) -> Ranking:
        n = len(documents)
        cands = [
            ScoredCandidate(
                id=str(i),
                doc_id=str(d.metadata.get("doc_id", d.id or i)),
                score=float(n - i),  # the input order is the first stage's, whatever its scores
                text=d.page_content,
                lang=d.metadata.get("lang"),
            )
            for i, d in enumerate(documents)
        ]
        return Ranking(query=Query(text=query), candidates=cands)

    def _documents(self, documents: Sequence[Document], ranking: Ranking, report: RerankReport) -> list[Document]:
        summary = {"query": ranking.query.text, "candidates": len(documents), **report.summary()}
        out = []
        for cand in ranking.candidates[: self.top_n or None]:
            original = documents[int(cand.id)]
            meta = {
                "first_stage_rank": int(cand.id) + 1,
                "first_stage_score": original.metadata.get("score"),
                **original.metadata,
                "rerank_score": cand.score,
                "rerank_report": summary,
            }
            if "cross_encoder_score" in cand.metadata:  # the model's own score, beside the rank's
                meta["cross_encoder_score"] = cand.metadata["cross_encoder_score"]
            out.append(Document(id=original.id, page_content=original.page_content, metadata=meta))
        return out

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """``documents`` reranked for ``query``, best first (see the class docstring)."""
        if not documents:
            return []
        result = self._reranker().rerank(self._ranking(documents, query))
        return self._documents(documents, result.ranking, result.report)

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """:meth:`compress_documents`, awaited (many queries can rerank concurrently)."""
        if not documents:
            return []
        result = await self._reranker().arerank(self._ranking(documents, query))
        return await asyncio.to_thread(self._documents, documents, result.ranking, result.report)


class _LLMReranker(_Reranker):
    """What both LLM compressors share: the LLM client (see :class:`_Reranker` for what comes back).

    ``llm``: a LangChain chat model, a clir-rag backend or :class:`~clir_rag.llm.LLMClient`;
    None loads the embedded GGUF (offline) on first use. The reranker is built per call from
    the current fields; its report counts LLM calls and failures.
    """

    llm: Any = None

    _clients: ClientFor = PrivateAttr(default_factory=ClientFor)

    def _client(self) -> LLMClient:
        return self._clients.get(self.llm)

    # the reranker class and the fields passed to it, named by each subclass
    _reranker_class: ClassVar[type[ListwiseReranker] | type[PairwiseReranker]]
    _settings: ClassVar[tuple[str, ...]]

    def _reranker(self) -> ListwiseReranker | PairwiseReranker:
        return self._reranker_class(self._client(), **{name: getattr(self, name) for name in self._settings})


class ListwiseLLMReranker(_LLMReranker):
    """RankGPT-style listwise reranking with a sliding window (clir-rag's ``ListwiseReranker``)."""

    window: int = Field(20, ge=2)
    step: int = Field(10, ge=1)
    max_passage_tokens: int = Field(300, ge=16)

    _reranker_class: ClassVar[type[ListwiseReranker]] = ListwiseReranker
    _settings: ClassVar[tuple[str, ...]] = ("window", "step", "depth", "max_passage_tokens")


class PairwiseLLMReranker(_LLMReranker):
    """PRP pairwise reranking (clir-rag's ``PairwiseReranker``): heap top-k by default."""

    method: Literal["allpairs", "bubble", "heap"] = "heap"
    mode: Literal["generate", "logprob", "auto"] = "auto"
    passes: int = Field(10, ge=1)
    top_k: int = Field(10, ge=1)
    max_passage_tokens: int = Field(200, ge=16)

    _reranker_class: ClassVar[type[PairwiseReranker]] = PairwiseReranker
    _settings: ClassVar[tuple[str, ...]] = ("method", "mode", "depth", "passes", "top_k", "max_passage_tokens")


class CrossEncoderReranker(_Reranker):
    """Reranking with a cross-encoder (clir-rag's ``CrossEncoderReranker``): any sentence-transformers
    ``CrossEncoder``, e.g. one trained with ``clir-rag train``, given as a directory, a hub id or a loaded model.

    The model is loaded once, on first use. ``rerank_score`` is the new rank's score (n..1); the
    model's own score is in ``cross_encoder_score``.
    """

    model: Any = Field(description="a cross-encoder directory, hub id, or sentence_transformers.CrossEncoder")
    batch_size: int = Field(16, ge=1)

    _loaded: Any = PrivateAttr(default=None)

    def _reranker(self) -> Reranker:
        from clir_rag.rerank.cross_encoder import CrossEncoderReranker as _CrossEncoder

        if self._loaded is None:
            self._loaded = _CrossEncoder(self.model, depth=self.depth, batch_size=self.batch_size).model
        return _CrossEncoder(self._loaded, depth=self.depth, batch_size=self.batch_size)

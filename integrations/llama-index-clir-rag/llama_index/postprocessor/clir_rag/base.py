"""Listwise and pairwise LLM rerankers as LlamaIndex node postprocessors."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.prompts import PromptTemplate
from llama_index.core.prompts.mixin import PromptDictType, PromptMixin, PromptMixinType
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from clir_rag.errors import InputError
from clir_rag.llm import LLMClient
from clir_rag.llm.base import LLM as ClirLLM
from clir_rag.rerank import ListwiseReranker, PairwiseReranker, RerankReport
from clir_rag.rerank import prompts as default_prompts
from clir_rag.types import Query, Ranking, ScoredCandidate

_HIDDEN = ["first_stage_score", "first_stage_rank"]


def _client(llm: Any, cache: str | None) -> LLMClient:
    """An LLMClient for our backends, a LlamaIndex LLM, or (None) the embedded GGUF, built once."""
    if isinstance(llm, LLMClient):
        return llm
    if llm is None:
        from clir_rag.llm import default_llm

        llm = default_llm()
    elif not isinstance(llm, ClirLLM):
        from clir_rag.llm.llamaindex_adapter import LlamaIndexLLM

        llm = LlamaIndexLLM(llm)
    return LLMClient(llm, cache=cache)


class _ClirRerank(PromptMixin, BaseNodePostprocessor):
    """What both rerank postprocessors share: building the reranker once, prompts, node conversion, reports.

    A subclass names its clir-rag reranker class, the fields passed to it, and
    which of its prompts LlamaIndex may read and replace (prompt key -> attribute).
    """

    top_n: int | None = Field(default=None, description="Keep this many nodes after reranking (None: all).")
    _reranker: Any = PrivateAttr()
    _last_report: RerankReport | None = PrivateAttr(default=None)
    _total: RerankReport | None = PrivateAttr(default=None)
    _reranker_class: ClassVar[type]
    _settings: ClassVar[tuple[str, ...]]
    _prompt_attrs: ClassVar[dict[str, str]]

    def __init__(self, llm: Any = None, *, cache: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        settings = {name: getattr(self, name) for name in self._settings}
        self._reranker = self._reranker_class(_client(llm, cache), **settings)

    def _get_prompt_modules(self) -> PromptMixinType:
        return {}

    def _get_prompts(self) -> PromptDictType:
        return {key: PromptTemplate(getattr(self._reranker, attr)) for key, attr in self._prompt_attrs.items()}

    def _update_prompts(self, prompts: PromptDictType) -> None:
        for key, attr in self._prompt_attrs.items():
            if key in prompts:
                setattr(self._reranker, attr, prompts[key].get_template())

    @property
    def last_report(self) -> RerankReport | None:
        """Outcome counts and costs of the last call."""
        return self._last_report

    @property
    def total_report(self) -> RerankReport | None:
        """Outcome counts and costs summed over every call so far."""
        return self._total

    def _to_ranking(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None) -> Ranking:
        if query_bundle is None:
            raise InputError(f"{self.class_name()} needs the query: pass query_bundle or query_str")
        n = len(nodes)
        cands = [
            ScoredCandidate(
                id=str(i),
                doc_id=str(nw.node.metadata.get("doc_id", nw.node.node_id)),
                score=float(n - i),  # input order is the first-stage order, whatever the node scores say
                text=nw.node.get_content(metadata_mode=MetadataMode.NONE),
                metadata={"first_stage_score": nw.score, "first_stage_rank": i + 1},
            )
            for i, nw in enumerate(nodes)
        ]
        return Ranking(query=Query(text=query_bundle.query_str), candidates=cands)

    def _from_ranking(self, nodes: list[NodeWithScore], ranking: Ranking, report: RerankReport) -> list[NodeWithScore]:
        self._last_report = report
        if self._total is None:
            self._total = RerankReport(report.reranker, queries=0)
        self._total.merge(report)
        out = []
        for cand in ranking.candidates[: self.top_n or None]:
            original = nodes[int(cand.id)]
            node = original.node.model_copy()
            # a second reranker stacked on a first keeps the first stage's values, not the first reranker's
            node.metadata = {
                "first_stage_score": original.score,
                "first_stage_rank": int(cand.id) + 1,
                **original.node.metadata,
            }
            node.excluded_llm_metadata_keys = list({*node.excluded_llm_metadata_keys, *_HIDDEN})
            node.excluded_embed_metadata_keys = list({*node.excluded_embed_metadata_keys, *_HIDDEN})
            out.append(NodeWithScore(node=node, score=cand.score))
        return out

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if not nodes:
            return []
        result = self._reranker.rerank(self._to_ranking(nodes, query_bundle))
        return self._from_ranking(nodes, result.ranking, result.report)

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if not nodes:
            return []
        result = await self._reranker.arerank(self._to_ranking(nodes, query_bundle))
        return self._from_ranking(nodes, result.ranking, result.report)


class ListwiseLLMRerank(_ClirRerank):
    """RankGPT-style listwise reranking with a sliding window (clir-rag's ListwiseReranker).

    ``llm``: a clir-rag backend or client, any LlamaIndex LLM, or None for the
    embedded offline GGUF. The model is set up once, here, not per query.
    """

    window: int = Field(default=20)
    step: int = Field(default=10)
    depth: int = Field(default=100)
    max_passage_tokens: int = Field(default=300)
    _reranker_class: ClassVar[type] = ListwiseReranker
    _settings: ClassVar[tuple[str, ...]] = ("window", "step", "depth", "max_passage_tokens")
    _prompt_attrs: ClassVar[dict[str, str]] = {"system_prompt": "system_prompt", "listwise_prompt": "user_prompt"}

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "ListwiseLLMRerank"


class PairwiseLLMRerank(_ClirRerank):
    """PRP pairwise reranking (clir-rag's PairwiseReranker): heap top-k by default."""

    method: Literal["allpairs", "bubble", "heap"] = Field(default="heap")
    mode: Literal["generate", "logprob", "auto"] = Field(default="auto")
    depth: int = Field(default=100)
    passes: int = Field(default=10)
    top_k: int = Field(default=10)
    max_passage_tokens: int = Field(default=200)
    _reranker_class: ClassVar[type] = PairwiseReranker
    _settings: ClassVar[tuple[str, ...]] = ("method", "mode", "depth", "passes", "top_k", "max_passage_tokens")
    _prompt_attrs: ClassVar[dict[str, str]] = {"pairwise_prompt": "prompt"}

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "PairwiseLLMRerank"


__all__ = ["ListwiseLLMRerank", "PairwiseLLMRerank", "default_prompts"]

"""Listwise and pairwise LLM rerankers, and a cross-encoder, as LlamaIndex node postprocessors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.prompts import PromptTemplate
from llama_index.core.prompts.mixin import PromptDictType, PromptMixin, PromptMixinType
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from clir_rag.errors import InputError
from clir_rag.llm import LLMClient
from clir_rag.llm.base import LLM as ClirLLM
from clir_rag.rerank import ListwiseReranker, PairwiseReranker, Reranker, RerankReport
from clir_rag.rerank import prompts as default_prompts
from clir_rag.rerank.prompts import check_template
from clir_rag.types import Query, Ranking, ScoredCandidate

dispatcher = get_dispatcher(__name__)

# provenance and bookkeeping a reader of the trace wants, but an LLM or an embedder should not see
_HIDDEN = ["first_stage_score", "first_stage_rank", "rerank_report", "cross_encoder_score"]


def _client(llm: Any, cache: str | None) -> LLMClient:
    """An LLMClient for our backends, a LlamaIndex LLM, or (None) the embedded GGUF, built once."""
    if isinstance(llm, LLMClient):
        return llm
    if llm is None:
        from clir_rag.llm import default_llm

        llm = default_llm()
    elif not isinstance(llm, ClirLLM):
        from llama_index.postprocessor.clir_rag.backend import LlamaIndexLLM

        llm = LlamaIndexLLM(llm)
    return LLMClient(llm, cache=cache)


class _NodeRerank(BaseNodePostprocessor):
    """What every rerank postprocessor shares: node conversion, events, per-call reports.

    Each call's report goes into every returned node's ``rerank_report`` metadata with the
    query it was for, never onto the instance, so concurrent queries cannot see each other's;
    :attr:`total_report` sums all calls. Each call emits LlamaIndex's
    ``ReRankStartEvent``/``ReRankEndEvent`` and a ``RERANKING`` callback event.
    """

    top_n: int | None = Field(default=None, description="Keep this many nodes after reranking (None: all).")
    _total: RerankReport | None = PrivateAttr(default=None)
    _total_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _reranker(self) -> Reranker:  # pragma: no cover - each subclass builds its own
        raise NotImplementedError

    def _model_name(self) -> str:  # pragma: no cover - each subclass names its model
        raise NotImplementedError

    @property
    def total_report(self) -> RerankReport | None:
        """Outcome counts and costs summed over every call so far (None before the first)."""
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
        with self._total_lock:
            if self._total is None:
                self._total = RerankReport(report.reranker, queries=0)
            self._total.merge(report)
        summary = {"query": ranking.query.text, "candidates": len(nodes), **report.summary()}
        out = []
        for cand in ranking.candidates[: self.top_n or None]:
            original = nodes[int(cand.id)]
            node = original.node.model_copy()
            # a second reranker stacked on a first keeps the first stage's values, not the first reranker's
            node.metadata = {
                "first_stage_score": original.score,
                "first_stage_rank": int(cand.id) + 1,
                **original.node.metadata,
                "rerank_report": summary,
            }
            if "cross_encoder_score" in cand.metadata:  # the model's own score, beside the rank's
                node.metadata["cross_encoder_score"] = cand.metadata["cross_encoder_score"]
            node.excluded_llm_metadata_keys = list({*node.excluded_llm_metadata_keys, *_HIDDEN})
            node.excluded_embed_metadata_keys = list({*node.excluded_embed_metadata_keys, *_HIDDEN})
            out.append(NodeWithScore(node=node, score=cand.score))
        return out

    @contextmanager
    def _events(self, nodes: list[NodeWithScore], query_bundle: QueryBundle) -> Iterator[list[NodeWithScore]]:
        """Start/end instrumentation events and a RERANKING callback event around one call.

        The caller fills the yielded list with the reranked nodes, which the end events carry.
        """
        model = self._model_name()
        top_n = self.top_n or len(nodes)
        dispatcher.event(ReRankStartEvent(query=query_bundle, nodes=nodes, top_n=top_n, model_name=model))
        payload: dict[str, Any] = {
            EventPayload.NODES: nodes,
            EventPayload.MODEL_NAME: model,
            EventPayload.QUERY_STR: query_bundle.query_str,
            EventPayload.TOP_K: top_n,
        }
        reranked: list[NodeWithScore] = []
        with self.callback_manager.event(CBEventType.RERANKING, payload=payload) as event:
            yield reranked
            event.on_end(payload={EventPayload.NODES: reranked})
        dispatcher.event(ReRankEndEvent(nodes=reranked))

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        ranking = self._to_ranking(nodes, query_bundle)
        if not nodes:
            return []
        reranker = self._reranker()  # built (and its prompts checked) before any event or LLM call
        assert query_bundle is not None
        with self._events(nodes, query_bundle) as reranked:
            result = reranker.rerank(ranking)
            reranked.extend(self._from_ranking(nodes, result.ranking, result.report))
        return reranked

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        ranking = self._to_ranking(nodes, query_bundle)
        if not nodes:
            return []
        reranker = self._reranker()
        assert query_bundle is not None
        with self._events(nodes, query_bundle) as reranked:
            result = await reranker.arerank(ranking)
            reranked.extend(self._from_ranking(nodes, result.ranking, result.report))
        return reranked


class _ClirRerank(PromptMixin, _NodeRerank):
    """What both LLM rerank postprocessors share: the LLM client and prompts (see :class:`_NodeRerank`).

    A subclass names its clir-rag reranker class, which of its fields are passed to it
    (field -> the reranker's keyword) and which of those are prompts that LlamaIndex's
    prompt mixin reads and replaces. The reranker is built per call from the fields as
    they are then, so changing ``window`` or a prompt after construction takes effect.

    Each call's report counts LLM calls, failures and problems.
    """

    _client: LLMClient = PrivateAttr()
    _reranker_class: ClassVar[type[ListwiseReranker] | type[PairwiseReranker]]
    _settings: ClassVar[dict[str, str]]
    _prompt_fields: ClassVar[dict[str, str]]  # field -> the template name check_template knows (or "" for none)

    def __init__(self, llm: Any = None, *, cache: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._check_prompts({name: getattr(self, name) for name in self._prompt_fields})
        self._client = _client(llm, cache)

    def _check_prompts(self, prompts: dict[str, str]) -> None:
        for name, template in prompts.items():
            if self._prompt_fields[name]:
                check_template(template, self._prompt_fields[name])

    def _reranker(self) -> ListwiseReranker | PairwiseReranker:
        settings = {keyword: getattr(self, name) for name, keyword in self._settings.items()}
        return self._reranker_class(self._client, **settings)

    def _model_name(self) -> str:
        return str(self._client.llm.model)

    def _get_prompt_modules(self) -> PromptMixinType:
        return {}

    def _get_prompts(self) -> PromptDictType:
        return {name: PromptTemplate(getattr(self, name)) for name in self._prompt_fields}

    def _update_prompts(self, prompts: PromptDictType) -> None:
        templates = {name: p.get_template() for name, p in prompts.items() if name in self._prompt_fields}
        self._check_prompts(templates)  # all checked before any is set
        for name, template in templates.items():
            setattr(self, name, template)


class ListwiseLLMRerank(_ClirRerank):
    """RankGPT-style listwise reranking with a sliding window (clir-rag's ListwiseReranker).

    ``llm``: a clir-rag backend or client, any LlamaIndex LLM, or None for the
    embedded offline GGUF. The model is set up once, here, not per query.
    ``listwise_prompt`` must use ``{query}`` and ``{passages}`` (and may use ``{num}``);
    ``passage_template`` must use ``{id}`` and ``{text}``. A template that does not is an
    ``InputError`` when set (here or through ``update_prompts``).
    """

    window: int = Field(default=20, description="Passages the LLM ranks at once.")
    step: int = Field(default=10, description="How far the window moves up the list each time.")
    depth: int = Field(default=100, description="Rerank this many nodes; the rest keep their order below.")
    max_passage_tokens: int = Field(default=300, description="Each passage is cut to this many tokens.")
    system_prompt: str = Field(default=default_prompts.LISTWISE_SYSTEM, description="The system message.")
    listwise_prompt: str = Field(default=default_prompts.LISTWISE_USER, description="The user message template.")
    passage_template: str = Field(default=default_prompts.LISTWISE_PASSAGE, description="How one passage is shown.")
    _reranker_class: ClassVar[type[ListwiseReranker]] = ListwiseReranker
    _settings: ClassVar[dict[str, str]] = {
        "window": "window",
        "step": "step",
        "depth": "depth",
        "max_passage_tokens": "max_passage_tokens",
        "system_prompt": "system_prompt",
        "listwise_prompt": "user_prompt",
        "passage_template": "passage_template",
    }
    _prompt_fields: ClassVar[dict[str, str]] = {
        "system_prompt": "",  # sent as it is, never formatted: any text will do
        "listwise_prompt": "listwise user prompt",
        "passage_template": "listwise passage template",
    }

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "ListwiseLLMRerank"


class PairwiseLLMRerank(_ClirRerank):
    """PRP pairwise reranking (clir-rag's PairwiseReranker): heap top-k by default.

    ``pairwise_prompt`` must use ``{query}``, ``{passage_a}`` and ``{passage_b}``.
    """

    method: Literal["allpairs", "bubble", "heap"] = Field(default="heap")
    mode: Literal["generate", "logprob", "auto"] = Field(default="auto")
    depth: int = Field(default=100)
    passes: int = Field(default=10)
    top_k: int = Field(default=10)
    max_passage_tokens: int = Field(default=200)
    pairwise_prompt: str = Field(default=default_prompts.PAIRWISE_USER, description="The comparison prompt.")
    _reranker_class: ClassVar[type[PairwiseReranker]] = PairwiseReranker
    _settings: ClassVar[dict[str, str]] = {
        "method": "method",
        "mode": "mode",
        "depth": "depth",
        "passes": "passes",
        "top_k": "top_k",
        "max_passage_tokens": "max_passage_tokens",
        "pairwise_prompt": "prompt",
    }
    _prompt_fields: ClassVar[dict[str, str]] = {"pairwise_prompt": "pairwise prompt"}

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "PairwiseLLMRerank"


class CrossEncoderRerank(_NodeRerank):
    """Reranking with a cross-encoder (clir-rag's ``CrossEncoderReranker``).

    ``model``: any sentence-transformers ``CrossEncoder`` (e.g. one trained with ``clir-rag train``)
    as a directory, a hub id, or a loaded model; it is loaded once, on first use. Node scores
    become the new ranks' n..1; the model's own score is in the ``cross_encoder_score`` metadata.
    """

    model: Any = Field(description="A cross-encoder directory, hub id, or sentence_transformers.CrossEncoder.")
    depth: int = Field(default=100, description="Rerank this many nodes; the rest keep their order below.")
    batch_size: int = Field(default=16, description="Pairs scored per forward pass.")
    _loaded: Any = PrivateAttr(default=None)

    def _reranker(self) -> Reranker:
        from clir_rag.rerank.cross_encoder import CrossEncoderReranker

        if self._loaded is None:
            self._loaded = CrossEncoderReranker(self.model, depth=self.depth, batch_size=self.batch_size).model
        return CrossEncoderReranker(self._loaded, depth=self.depth, batch_size=self.batch_size)

    def _model_name(self) -> str:
        return self.model if isinstance(self.model, str) else type(self.model).__name__

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "CrossEncoderRerank"


__all__ = ["CrossEncoderRerank", "ListwiseLLMRerank", "PairwiseLLMRerank", "default_prompts"]

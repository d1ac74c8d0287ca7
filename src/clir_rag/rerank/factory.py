"""Build a reranker from a method name, as configs and the CLI spell it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clir_rag.errors import InputError
from clir_rag.llm import LLM, LLMClient
from clir_rag.rerank.listwise import ListwiseReranker
from clir_rag.rerank.pairwise import PairwiseReranker

if TYPE_CHECKING:
    from clir_rag.config import RerankSpec
    from clir_rag.rerank.cross_encoder import CrossEncoderReranker

LLM_METHODS = ("listwise", "pairwise-heap", "pairwise-bubble", "pairwise-allpairs")
METHODS = (*LLM_METHODS, "cross-encoder")


def make_reranker(
    method: str,
    llm: LLMClient | LLM | None,
    *,
    depth: int = 100,
    window: int = 20,
    step: int = 10,
    top_k: int = 10,
    passes: int = 10,
    model: str | Any = None,
) -> ListwiseReranker | PairwiseReranker | CrossEncoderReranker:
    """``listwise`` (sliding windows), ``pairwise-heap | pairwise-bubble | pairwise-allpairs`` (PRP) over
    ``llm``, or ``cross-encoder`` over ``model`` (a directory, hub id or loaded ``CrossEncoder``)."""
    if method == "cross-encoder":
        if model is None:
            raise InputError("rerank method 'cross-encoder' needs a model: a cross-encoder directory or hub id")
        from clir_rag.rerank.cross_encoder import CrossEncoderReranker

        return CrossEncoderReranker(model, depth=depth)
    if method not in LLM_METHODS:
        raise InputError(f"unknown rerank method {method!r}: use one of {', '.join(METHODS)}")
    if llm is None:
        raise InputError(f"rerank method {method!r} needs an LLM")
    if method == "listwise":
        return ListwiseReranker(llm, window=window, step=step, depth=depth)
    return PairwiseReranker(llm, method=method.split("-", 1)[1], depth=depth, top_k=top_k, passes=passes)  # type: ignore[arg-type]


def reranker_from_spec(
    spec: RerankSpec, llm: LLMClient | LLM | None
) -> ListwiseReranker | PairwiseReranker | CrossEncoderReranker:
    """The reranker a config's ``rerank`` section describes (see :class:`clir_rag.config.RerankSpec`)."""
    settings = spec.model_dump(include={"depth", "window", "step", "top_k", "passes", "model"})
    return make_reranker(spec.method, llm, **settings)

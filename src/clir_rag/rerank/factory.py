"""Build a reranker from a method name, as configs and the CLI spell it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clir_rag.errors import InputError
from clir_rag.llm import LLM, LLMClient
from clir_rag.rerank.listwise import ListwiseReranker
from clir_rag.rerank.pairwise import PairwiseReranker

if TYPE_CHECKING:
    from clir_rag.config import RerankSpec

METHODS = ("listwise", "pairwise-heap", "pairwise-bubble", "pairwise-allpairs")


def make_reranker(
    method: str,
    llm: LLMClient | LLM,
    *,
    depth: int = 100,
    window: int = 20,
    step: int = 10,
    top_k: int = 10,
    passes: int = 10,
) -> ListwiseReranker | PairwiseReranker:
    """``listwise`` (sliding windows) or ``pairwise-heap | pairwise-bubble | pairwise-allpairs`` (PRP)."""
    if method == "listwise":
        return ListwiseReranker(llm, window=window, step=step, depth=depth)
    if method in METHODS:
        return PairwiseReranker(llm, method=method.split("-", 1)[1], depth=depth, top_k=top_k, passes=passes)  # type: ignore[arg-type]
    raise InputError(f"unknown rerank method {method!r}: use one of {', '.join(METHODS)}")


def reranker_from_spec(spec: RerankSpec, llm: LLMClient | LLM) -> ListwiseReranker | PairwiseReranker:
    """The reranker a config's ``rerank`` section describes (see :class:`clir_rag.config.RerankSpec`)."""
    settings = spec.model_dump(include={"depth", "window", "step", "top_k", "passes"})
    return make_reranker(spec.method, llm, **settings)

"""LLM rerankers: listwise (sliding window) and pairwise (PRP), over any backend of :mod:`clir_rag.llm`."""

from clir_rag.rerank.base import Reranker, RerankReport, RerankResult, apply_order
from clir_rag.rerank.listwise import ListwiseReranker
from clir_rag.rerank.pairwise import PairwiseReranker
from clir_rag.rerank.permutation import ParsedPermutation, parse_permutation

__all__ = [
    "ListwiseReranker",
    "PairwiseReranker",
    "ParsedPermutation",
    "RerankReport",
    "RerankResult",
    "Reranker",
    "apply_order",
    "parse_permutation",
]

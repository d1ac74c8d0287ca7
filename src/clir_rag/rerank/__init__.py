"""Rerankers: listwise (sliding window) and pairwise (PRP) LLM rerankers over any backend of
:mod:`clir_rag.llm`, and a sentence-transformers cross-encoder (loaded only when one is built)."""

from clir_rag.rerank.base import Reranker, RerankReport, RerankResult, apply_order
from clir_rag.rerank.cross_encoder import CrossEncoderReranker
from clir_rag.rerank.listwise import ListwiseReranker
from clir_rag.rerank.pairwise import PairwiseReranker
from clir_rag.rerank.permutation import ParsedPermutation, parse_permutation

__all__ = [
    "CrossEncoderReranker",
    "ListwiseReranker",
    "PairwiseReranker",
    "ParsedPermutation",
    "RerankReport",
    "RerankResult",
    "Reranker",
    "apply_order",
    "parse_permutation",
]

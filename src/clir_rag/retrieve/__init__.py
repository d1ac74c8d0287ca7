"""First-stage retrieval: dense, BM25, their fusion, and passage-to-document aggregation."""

from clir_rag.retrieve.aggregate import DocumentRetriever, aggregate_passages
from clir_rag.retrieve.base import Retriever
from clir_rag.retrieve.bm25 import BM25Retriever
from clir_rag.retrieve.dense import DenseRetriever
from clir_rag.retrieve.fusion import HybridRetriever, balanced_fusion, reciprocal_rank_fusion, weighted_score_fusion
from clir_rag.retrieve.translated import QueryTranslationBM25Retriever, translated_hybrid

__all__ = [
    "BM25Retriever",
    "DenseRetriever",
    "DocumentRetriever",
    "HybridRetriever",
    "QueryTranslationBM25Retriever",
    "Retriever",
    "aggregate_passages",
    "balanced_fusion",
    "reciprocal_rank_fusion",
    "translated_hybrid",
    "weighted_score_fusion",
]

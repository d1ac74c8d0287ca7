"""LangChain components of clir-rag (partner-package layout: ``langchain_clir_rag``)."""

from langchain_clir_rag.backend import LangChainLLM
from langchain_clir_rag.rerankers import ListwiseLLMReranker, PairwiseLLMReranker
from langchain_clir_rag.retrievers import CrossLingualRetriever

__all__ = ["CrossLingualRetriever", "LangChainLLM", "ListwiseLLMReranker", "PairwiseLLMReranker"]

"""LangChain components of clir-rag (partner-package layout: ``langchain_clir_rag``)."""

from langchain_clir_rag.backend import LangChainLLM
from langchain_clir_rag.chat_models import ClirRagChatModel
from langchain_clir_rag.rerankers import CrossEncoderReranker, ListwiseLLMReranker, PairwiseLLMReranker
from langchain_clir_rag.retrievers import CrossLingualRetriever
from langchain_clir_rag.translation import TranslationTransformer

__all__ = [
    "ClirRagChatModel",
    "CrossEncoderReranker",
    "CrossLingualRetriever",
    "LangChainLLM",
    "ListwiseLLMReranker",
    "PairwiseLLMReranker",
    "TranslationTransformer",
]

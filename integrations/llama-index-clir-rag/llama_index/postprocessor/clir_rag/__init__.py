from llama_index.postprocessor.clir_rag.base import ListwiseLLMRerank, PairwiseLLMRerank

__all__ = ["ListwiseLLMRerank", "PairwiseLLMRerank"]

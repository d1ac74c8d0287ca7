from llama_index.postprocessor.clir_rag.base import ListwiseLLMRerank, PairwiseLLMRerank
from llama_index.postprocessor.clir_rag.translation import TranslationPostprocessor

__all__ = ["ListwiseLLMRerank", "PairwiseLLMRerank", "TranslationPostprocessor"]

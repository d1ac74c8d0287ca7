from llama_index.postprocessor.clir_rag.base import CrossEncoderRerank, ListwiseLLMRerank, PairwiseLLMRerank
from llama_index.postprocessor.clir_rag.translation import TranslationPostprocessor

__all__ = ["CrossEncoderRerank", "ListwiseLLMRerank", "PairwiseLLMRerank", "TranslationPostprocessor"]

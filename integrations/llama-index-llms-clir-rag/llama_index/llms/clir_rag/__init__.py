from llama_index.llms.clir_rag.base import ClirRagLLM

__all__ = ["ClirRagLLM"]

from llama_index.retrievers.clir_rag.base import CrossLingualRetriever, candidate_to_node, to_clir_document

__all__ = ["CrossLingualRetriever", "candidate_to_node", "to_clir_document"]

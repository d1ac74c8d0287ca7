"""Where passages live: the Chroma vector store and the BM25 index beside it."""

from clir_rag.store.bm25 import BM25Index
from clir_rag.store.chroma import ChromaStore

__all__ = ["BM25Index", "ChromaStore"]

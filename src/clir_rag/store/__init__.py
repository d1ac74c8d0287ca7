"""Where passages live: the vector-store protocol, its Chroma implementation and the BM25 index beside it."""

from clir_rag.store.base import VectorStore
from clir_rag.store.bm25 import BM25Index
from clir_rag.store.chroma import ChromaStore

__all__ = ["BM25Index", "ChromaStore", "VectorStore"]

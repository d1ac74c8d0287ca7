"""Splitting documents into passages by token count."""

from clir_rag.chunk.chunker import Chunker, approximate_token_count

__all__ = ["Chunker", "approximate_token_count"]

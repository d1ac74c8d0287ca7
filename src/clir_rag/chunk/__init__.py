"""Splitting documents into passages by token count."""

from clir_rag.chunk.chunker import DEFAULT_MAX_TOKENS, DEFAULT_OVERLAP, Chunker, approximate_token_count

__all__ = ["DEFAULT_MAX_TOKENS", "DEFAULT_OVERLAP", "Chunker", "approximate_token_count"]

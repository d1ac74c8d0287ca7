"""The LLM call cache: the shared SQLite store of :mod:`clir_rag.cache`."""

from clir_rag.cache import LLMCache, SqliteCache, cache_key

__all__ = ["LLMCache", "SqliteCache", "cache_key"]

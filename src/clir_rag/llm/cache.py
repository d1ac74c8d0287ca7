"""The LLM call cache: the shared SQLite store of :mod:`clir_rag.cache`."""

from typing import Any

from clir_rag.cache import SqliteCache, cache_key, deprecated_name

__all__ = ["SqliteCache", "cache_key"]


def __getattr__(name: str) -> Any:  # LLMCache, the old name of SqliteCache, warns
    return deprecated_name(__name__, name)

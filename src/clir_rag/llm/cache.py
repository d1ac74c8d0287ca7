"""The LLM call cache: the shared SQLite store of :mod:`clir_rag.cache`."""

from typing import Any

from clir_rag.cache import SqliteCache, cache_key
from clir_rag.deprecation import renamed

__all__ = ["SqliteCache", "cache_key"]

_RENAMED = {"LLMCache": "clir_rag.cache.SqliteCache"}  # kept for one release


def __getattr__(name: str) -> Any:  # LLMCache, the old name of SqliteCache, warns
    return renamed(__name__, name, _RENAMED)

"""Cutting documents into passages (token or word windows with overlap)."""

from clir_rag.chunk.chunker import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_MAX_WORDS,
    DEFAULT_OVERLAP,
    DEFAULT_WORD_OVERLAP,
    PASSAGE_UNITS,
    Chunker,
    PassageUnit,
    approximate_token_count,
    count_words,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MAX_WORDS",
    "DEFAULT_OVERLAP",
    "DEFAULT_WORD_OVERLAP",
    "PASSAGE_UNITS",
    "Chunker",
    "PassageUnit",
    "approximate_token_count",
    "count_words",
]

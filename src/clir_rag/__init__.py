"""clir-rag: cross-lingual retrieval for RAG.

Documents -> passages (:mod:`clir_rag.chunk`) -> embeddings (:mod:`clir_rag.embed`)
-> Chroma + BM25 (:mod:`clir_rag.store`) -> rankings (:mod:`clir_rag.retrieve`).
:class:`CrossLingualIndex` ties these together in one directory.
"""

from importlib.metadata import PackageNotFoundError, version

from clir_rag.corpus import iter_corpus, read_corpus
from clir_rag.errors import (
    ClirRagError,
    CorpusError,
    IndexCompatibilityError,
    IndexStatsError,
    InputError,
    JudgeOutputError,
    LanguageError,
    LLMError,
    LLMTransientError,
    LLMUnavailableError,
    TranslationModelError,
    UnsupportedLanguageError,
)
from clir_rag.index import CrossLingualIndex, IndexStats
from clir_rag.languages import detect_language, normalize_language
from clir_rag.types import Document, Passage, Query, Ranking, ScoredCandidate

try:  # one source of truth: the version in pyproject.toml, as installed
    __version__ = version("clir-rag")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ClirRagError",
    "CorpusError",
    "CrossLingualIndex",
    "Document",
    "IndexCompatibilityError",
    "IndexStats",
    "IndexStatsError",
    "InputError",
    "JudgeOutputError",
    "LLMError",
    "LLMTransientError",
    "LLMUnavailableError",
    "LanguageError",
    "Passage",
    "Query",
    "Ranking",
    "ScoredCandidate",
    "TranslationModelError",
    "UnsupportedLanguageError",
    "detect_language",
    "iter_corpus",
    "normalize_language",
    "read_corpus",
]

"""clir-rag: cross-lingual retrieval for RAG.

Documents -> passages (:mod:`clir_rag.chunk`) -> embeddings (:mod:`clir_rag.embed`)
-> Chroma + BM25 (:mod:`clir_rag.store`) -> rankings (:mod:`clir_rag.retrieve`)
-> (translated, :mod:`clir_rag.translate`) -> reranked (:mod:`clir_rag.rerank`)
-> answered and checked (:mod:`clir_rag.rag`). :class:`CrossLingualIndex` ties the
first four together in one directory; docs/ARCHITECTURE.md maps every stage.
"""

from importlib.metadata import PackageNotFoundError, version

from clir_rag.corpus import iter_corpus, read_corpus
from clir_rag.errors import (
    ClirRagError,
    CorpusError,
    ExtraNotInstalledError,
    IndexCompatibilityError,
    IndexCorruptError,
    IndexLockedError,
    IndexReadOnlyError,
    IndexStatsError,
    IndexWriteError,
    InputError,
    JudgeOutputError,
    LanguageError,
    LLMError,
    LLMTimeoutError,
    LLMTransientError,
    LLMUnavailableError,
    StoreUnavailableError,
    TranslationModelError,
    TranslationOutputError,
    UnsupportedLanguageError,
)
from clir_rag.index import AddReport, CrossLingualIndex
from clir_rag.languages import detect_language, normalize_language
from clir_rag.llm import LLMClient, load_llm
from clir_rag.rerank import ListwiseReranker, PairwiseReranker
from clir_rag.rerank.run import rerank_run
from clir_rag.retrieve import DocumentRetriever, HybridRetriever, Retriever
from clir_rag.types import Document, Passage, Query, Ranking, Run, ScoredCandidate

try:  # one source of truth: the version in pyproject.toml, as installed
    __version__ = version("clir-rag")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AddReport",
    "ClirRagError",
    "CorpusError",
    "CrossLingualIndex",
    "Document",
    "DocumentRetriever",
    "ExtraNotInstalledError",
    "HybridRetriever",
    "IndexCompatibilityError",
    "IndexCorruptError",
    "IndexLockedError",
    "IndexReadOnlyError",
    "IndexStatsError",
    "IndexWriteError",
    "InputError",
    "JudgeOutputError",
    "LLMClient",
    "LLMError",
    "LLMTimeoutError",
    "LLMTransientError",
    "LLMUnavailableError",
    "LanguageError",
    "ListwiseReranker",
    "PairwiseReranker",
    "Passage",
    "Query",
    "Ranking",
    "Retriever",
    "Run",
    "ScoredCandidate",
    "StoreUnavailableError",
    "TranslationModelError",
    "TranslationOutputError",
    "UnsupportedLanguageError",
    "detect_language",
    "iter_corpus",
    "load_llm",
    "normalize_language",
    "read_corpus",
    "rerank_run",
]

"""clir-rag: cross-lingual retrieval for RAG.

Documents -> passages (:mod:`clir_rag.chunk`) -> embeddings (:mod:`clir_rag.embed`)
-> Chroma + BM25 (:mod:`clir_rag.store`) -> rankings (:mod:`clir_rag.retrieve`)
-> (translated, :mod:`clir_rag.translate`) -> reranked (:mod:`clir_rag.rerank`)
-> answered and checked (:mod:`clir_rag.rag`). :class:`CrossLingualIndex` ties the
first four together in one directory; docs/ARCHITECTURE.md maps every stage.

The top level holds what a RAG application reaches for first (``__all__``); everything
else lives in its stage's module (errors in :mod:`clir_rag.errors`, retrievers in
:mod:`clir_rag.retrieve`, ...).
"""

import warnings
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from clir_rag.errors import ClirRagError
from clir_rag.index import CrossLingualIndex
from clir_rag.llm import LLMClient, default_llm
from clir_rag.rerank import ListwiseReranker, PairwiseReranker
from clir_rag.translate.llm_translator import LLMTranslator
from clir_rag.types import Document, Passage, Query, Ranking, Run

if TYPE_CHECKING:
    from clir_rag.rag.generate import AnswerGenerator

try:  # one source of truth: the version in pyproject.toml, as installed
    __version__ = version("clir-rag")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AnswerGenerator",
    "ClirRagError",
    "CrossLingualIndex",
    "Document",
    "LLMClient",
    "LLMTranslator",
    "ListwiseReranker",
    "PairwiseReranker",
    "Passage",
    "Query",
    "Ranking",
    "Run",
    "default_llm",
]

# Names the top level exported before 0.2, kept for one release: each warns once per use and points to
# its module ("module.NewName" where it was renamed). The error classes all live in clir_rag.errors.
_MOVED = {
    **{
        name: "clir_rag.errors"
        for name in (
            "CorpusError",
            "ExtraNotInstalledError",
            "IndexCompatibilityError",
            "IndexCorruptError",
            "IndexLockedError",
            "IndexReadOnlyError",
            "IndexStatsError",
            "IndexWriteError",
            "InputError",
            "JudgeOutputError",
            "LLMError",
            "LLMTimeoutError",
            "LLMTransientError",
            "LLMUnavailableError",
            "LanguageError",
            "StoreUnavailableError",
            "TranslationModelError",
            "TranslationOutputError",
            "UnsupportedLanguageError",
        )
    },
    "DocumentRetriever": "clir_rag.retrieve",
    "HybridRetriever": "clir_rag.retrieve",
    "Retriever": "clir_rag.retrieve",
    "ScoredCandidate": "clir_rag.types",
    "IndexStats": "clir_rag.index.AddReport",
    "detect_language": "clir_rag.languages",
    "normalize_language": "clir_rag.languages",
    "iter_corpus": "clir_rag.corpus",
    "read_corpus": "clir_rag.corpus",
    "load_llm": "clir_rag.llm",
    "rerank_run": "clir_rag.rerank.run",
}


# Public names loaded on first use: answering pulls in the answer check and generation, which an
# application that only retrieves (or the service reading citations) should not pay for at import.
_LAZY = {"AnswerGenerator": "clir_rag.rag.generate"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module 'clir_rag' has no attribute {name!r}")
    module, _, new = home.rpartition(".") if home.rpartition(".")[2][:1].isupper() else (home, "", name)
    where = f"use {module}.{new}" if new != name else f"import it from {module}"
    warnings.warn(
        f"clir_rag.{name} is deprecated and will be removed in the next release: {where}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(import_module(module), new)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])

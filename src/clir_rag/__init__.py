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

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from clir_rag import errors
from clir_rag.deprecation import renamed
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

# Names the top level exported before 0.2, kept for one release: old name -> what replaces it. Every error
# class the top level exported lives in clir_rag.errors.
_RENAMED = {
    **{name: f"clir_rag.errors.{name}" for name in errors.__all__ if name != "ClirRagError"},
    **{name: f"clir_rag.retrieve.{name}" for name in ("DocumentRetriever", "HybridRetriever", "Retriever")},
    "ScoredCandidate": "clir_rag.types.ScoredCandidate",
    "IndexStats": "clir_rag.index.writer.AddReport",
    "detect_language": "clir_rag.languages.detect_language",
    "normalize_language": "clir_rag.languages.normalize_language",
    "iter_corpus": "clir_rag.corpus.iter_corpus",
    "read_corpus": "clir_rag.corpus.read_corpus",
    "load_llm": "clir_rag.llm.load_llm",
    "rerank_run": "clir_rag.rerank.run.rerank_run",
}


# Public names loaded on first use: answering pulls in the answer check and generation, which an
# application that only retrieves (or the service reading citations) should not pay for at import.
_LAZY = {"AnswerGenerator": "clir_rag.rag.generate"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    return renamed(__name__, name, _RENAMED)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])

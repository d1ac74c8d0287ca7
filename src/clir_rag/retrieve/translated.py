"""Retrieval with translation: BM25 over translated queries (QT) or documents (DT), and their fusion.

- BM25-QT: the query is translated into each document language and each
  language's BM25 sub-index is searched with its own translation.
- BM25-DT: an index built over documents translated into the query language
  (``clir-rag index --translate-to en``, or :func:`clir_rag.translate.corpus.translate_corpus`);
  its BM25 is monolingual, and its records keep the original text and language.
- :func:`translated_hybrid` fuses dense retrieval over the originals with BM25
  over the translations at document level, where the two indexes' ids agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from clir_rag.errors import InputError, UnsupportedLanguageError
from clir_rag.languages import detect_language
from clir_rag.retrieve.aggregate import DocumentRetriever
from clir_rag.retrieve.base import BaseRetriever, Retriever
from clir_rag.retrieve.bm25 import BM25Retriever
from clir_rag.retrieve.fusion import HybridRetriever
from clir_rag.store.base import VectorStore
from clir_rag.store.bm25 import BM25Index
from clir_rag.types import PlainFusion, Query, Ranking, RetrievalMode

if TYPE_CHECKING:
    from clir_rag.translate.base import Translator


class HasRetrievers(Protocol):
    """What :func:`translated_hybrid` needs of an index (a :class:`~clir_rag.index.CrossLingualIndex`)."""

    def retriever(self, mode: RetrievalMode = "dense") -> Retriever:
        """A retriever over this index in ``mode``."""
        ...


class QueryTranslationBM25Retriever(BaseRetriever):
    """BM25-QT: the query translated into each document language, each language searched in its own.

    Each ranking's ``metadata`` says what its call did: ``query_translations`` (language -> the query
    as searched) and ``skipped_languages`` (language -> why: the translator cannot produce it).
    """

    name = "bm25-qt"

    def __init__(self, bm25: BM25Index, store: VectorStore, translator: Translator, query_lang: str | None = None):
        self.bm25 = BM25Retriever(bm25, store)
        self.translator = translator
        self.query_lang = query_lang

    def _retrieve(self, q: Query, k: int, langs: list[str] | None) -> Ranking:
        qlang = q.lang or self.query_lang or detect_language(q.text)
        if qlang is None:
            raise InputError(f"cannot tell the language of query {q.text!r}: give Query(lang=...) or query_lang")
        per_lang: dict[str, str] = {}
        skipped: dict[str, str] = {}
        for lang in langs or self.bm25.bm25.languages:
            if lang == qlang:
                per_lang[lang] = q.text
                continue
            try:
                per_lang[lang] = self.translator.translate([q.text], qlang, lang)[0]
            except UnsupportedLanguageError as e:
                skipped[lang] = str(e)
        ranking = self.bm25.retrieve(q, k, langs=list(per_lang) or None, query_by_lang=per_lang)
        ranking.retriever = self.name
        ranking.metadata = {"query_translations": per_lang, "skipped_languages": skipped}
        return ranking


def translated_hybrid(
    original: HasRetrievers,
    translated: HasRetrievers,
    *,
    method: PlainFusion = "rrf",
    weights: Sequence[float] | None = None,
    depth: int = 100,
) -> HybridRetriever:
    """Dense over the original documents fused with BM25-DT over their translations, per document."""
    dense = DocumentRetriever(original.retriever("dense"), "maxp")
    bm25_dt = DocumentRetriever(translated.retriever("bm25"), "maxp")
    return HybridRetriever([dense, bm25_dt], method=method, weights=weights, depth=depth)

"""``CrossLingualRetriever``: clir-rag's retrievers as a LangChain ``BaseRetriever``."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr

from clir_rag.index import CrossLingualIndex
from clir_rag.languages import detect_language
from clir_rag.types import Aggregation, Debias, Query, RetrievalMode, ScoredCandidate
from clir_rag.types import Document as ClirDocument

# where LangChain's loaders record a document's origin: ids derived from them survive re-loading
_SOURCE_KEYS = ("doc_id", "id", "source", "file_path", "url")


class CrossLingualRetriever(BaseRetriever):
    """Passages in any language for a query in any language, from a clir-rag index directory.

    ``mode``: ``dense`` (multilingual e5, the default across languages), ``bm25`` or ``hybrid``.
    ``k`` results (also per call: ``invoke(query, k=3)``), optionally only in documents of
    ``langs``; ``documents="maxp"`` ranks whole documents by their best passage. ``debias``
    corrects dense scores for language bias (``auto``, ``center``, ``zscore``, ``center-zscore``, ``none``). The
    query's language is ``query_lang``, else detected (lingua, offline). Each returned
    ``Document`` carries ``id`` (the passage), ``metadata["doc_id"]``, ``["lang"]``, ``["score"]``
    and ``["rank"]``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index_dir: str = Field(description="a clir-rag index directory (see CrossLingualRetriever.from_documents)")
    mode: RetrievalMode = "dense"
    k: int = Field(4, ge=1, description="results per query")
    langs: list[str] | None = None
    query_lang: str | None = None
    debias: Debias = "auto"
    documents: Aggregation | None = None
    _index: CrossLingualIndex = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        """Open the index once; retrievers are built per call, so changed fields take effect."""
        self._index = CrossLingualIndex(self.index_dir)

    @classmethod
    def from_documents(
        cls, documents: Sequence[Document], index_dir: str | Path, *, encoder: str | None = None, **kwargs: Any
    ) -> CrossLingualRetriever:
        """Index LangChain ``documents`` into ``index_dir`` (idempotent and resumable) and retrieve over them.

        A document's id is its ``id``, else its source in the metadata (``source``, ``file_path``,
        ...), else a hash of its text and metadata, so indexing the same documents again adds
        nothing. Its language is ``metadata["lang"]`` (or ``language``), else detected.
        """
        index = CrossLingualIndex(index_dir, encoder=encoder)
        index.add([to_clir_document(d) for d in documents], progress=False)
        return cls(index_dir=str(index_dir), **kwargs)

    def _query(self, text: str) -> Query:
        return Query(text=text, lang=self.query_lang or detect_language(text))

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k = int(kwargs.get("k", self.k))
        retriever = self._index.retriever(self.mode, documents=self.documents, debias=self.debias)
        ranking = retriever.retrieve(self._query(query), k, langs=self.langs)
        return [to_langchain_document(c, rank, ranking.retriever) for rank, c in enumerate(ranking.candidates, 1)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        # embedding and scoring are CPU-bound and block: a worker thread keeps the event loop free
        return await asyncio.to_thread(
            self._get_relevant_documents, query, run_manager=run_manager.get_sync(), **kwargs
        )


def to_clir_document(doc: Document) -> ClirDocument:
    """A LangChain ``Document`` as a clir-rag document (id, language and title read as documented above)."""
    meta = dict(doc.metadata or {})
    lang = meta.pop("lang", None) or meta.pop("language", None)
    title = meta.pop("title", None)
    doc_id = doc.id or next((str(meta[key]) for key in _SOURCE_KEYS if meta.get(key)), None)
    if doc_id is None:
        blob = json.dumps([doc.page_content, meta], sort_keys=True, ensure_ascii=False, default=str)
        doc_id = "sha1-" + hashlib.sha1(blob.encode("utf-8")).hexdigest()[:20]
    return ClirDocument(id=doc_id, text=doc.page_content, lang=lang, title=title, metadata=meta)


def to_langchain_document(cand: ScoredCandidate, rank: int, retriever: str) -> Document:
    """A clir-rag candidate as a LangChain ``Document`` with its provenance in the metadata."""
    meta = {
        **cand.metadata,
        "doc_id": cand.doc_id,
        "lang": cand.lang,
        "score": cand.score,
        "rank": rank,
        "retriever": retriever,
    }
    if cand.title:
        meta["title"] = cand.title
    return Document(id=cand.id, page_content=cand.text, metadata=meta)

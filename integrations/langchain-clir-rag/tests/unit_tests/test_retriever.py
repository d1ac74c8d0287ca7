"""CrossLingualRetriever's conversions between LangChain documents and clir-rag's, without an index or a model."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_core")
from langchain_clir_rag.retrievers import to_clir_document, to_langchain_document
from langchain_core.documents import Document

from clir_rag.types import ScoredCandidate


def test_a_document_keeps_its_id_else_is_named_by_its_source_else_by_a_hash_of_its_content() -> None:
    assert to_clir_document(Document(page_content="x", id="given", metadata={"source": "a.txt"})).id == "given"
    by_source = to_clir_document(Document(page_content="x", metadata={"file_path": "b.txt", "url": "http://c"}))
    assert by_source.id == "b.txt"  # file_path comes before url
    first = to_clir_document(Document(page_content="Hallo Welt.", metadata={"author": "A"}))
    again = to_clir_document(Document(page_content="Hallo Welt.", metadata={"author": "A"}))
    other = to_clir_document(Document(page_content="Hallo Welt.", metadata={"author": "B"}))
    assert first.id == again.id and first.id.startswith("sha1-") and len(first.id) == len("sha1-") + 20
    assert other.id != first.id  # the metadata is part of what names it


def test_language_and_title_are_read_from_the_metadata_and_taken_out_of_it() -> None:
    doc = to_clir_document(Document(page_content="Bonjour.", id="d", metadata={"language": "fr", "title": "T", "k": 1}))
    assert (doc.lang, doc.title, doc.metadata) == ("fr", "T", {"k": 1})
    assert to_clir_document(Document(page_content="Hallo.", id="d", metadata={"lang": "de"})).lang == "de"
    assert to_clir_document(Document(page_content="Hallo.", id="d")).lang is None  # detected when indexed


def test_a_candidate_becomes_a_document_with_its_provenance() -> None:
    cand = ScoredCandidate(
        id="doc#2", doc_id="doc", score=0.5, text="Texte.", lang="fr", title="Titre", metadata={"rank": 9, "x": 1}
    )
    out = to_langchain_document(cand, 3, "dense-center")
    assert out.id == "doc#2" and out.page_content == "Texte."
    assert out.metadata == {
        "x": 1,
        "rank": 3,  # the rank in this result, not one the stored passage carried
        "doc_id": "doc",
        "lang": "fr",
        "score": 0.5,
        "retriever": "dense-center",
        "title": "Titre",
    }
    untitled = to_langchain_document(cand.model_copy(update={"title": None}), 1, "bm25")
    assert "title" not in untitled.metadata

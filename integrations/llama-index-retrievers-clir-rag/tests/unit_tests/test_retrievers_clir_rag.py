"""CrossLingualRetriever's adapter logic without an index or a model: its arguments, and the conversions
between LlamaIndex nodes and clir-rag's documents and candidates."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Document as LIDocument
from llama_index.core.schema import MetadataMode, NodeRelationship
from llama_index.retrievers.clir_rag import CrossLingualRetriever
from llama_index.retrievers.clir_rag.base import candidate_to_node, stable_id, to_clir_document

from clir_rag.types import ScoredCandidate


def test_bad_top_k() -> None:
    with pytest.raises(ValueError, match="similarity_top_k"):
        CrossLingualRetriever(retriever=None, similarity_top_k=0)  # type: ignore[arg-type]


def test_a_given_id_is_kept_and_a_random_one_replaced_by_the_source_or_a_hash() -> None:
    assert stable_id(LIDocument(text="x", id_="mine", metadata={"file_path": "a.txt"})) == "mine"
    assert stable_id(LIDocument(text="x", metadata={"file_path": "a.txt", "url": "http://b"})) == "a.txt"
    # without a source: the same text and metadata give the same id on every run, other metadata another
    first = stable_id(LIDocument(text="Hallo Welt.", metadata={"author": "A"}))
    assert first == stable_id(LIDocument(text="Hallo Welt.", metadata={"author": "A"}))
    assert first.startswith("sha1-") and first != stable_id(LIDocument(text="Hallo Welt.", metadata={"author": "B"}))


def test_language_and_title_are_read_from_the_metadata_and_taken_out_of_it() -> None:
    doc = to_clir_document(LIDocument(text="Bonjour.", id_="d", metadata={"language": "fr", "title": "T", "k": 1}))
    assert (doc.id, doc.lang, doc.title, doc.metadata) == ("d", "fr", "T", {"k": 1})
    assert to_clir_document(LIDocument(text="Hallo.", id_="d", metadata={"lang": "de"})).lang == "de"


def test_a_candidate_becomes_a_node_that_shows_the_llm_its_language_not_its_offsets() -> None:
    meta = {"passage_index": 2, "start": 10, "end": 16, "section": "intro"}
    cand = ScoredCandidate(id="doc#2", doc_id="doc", score=0.5, text="Texte.", lang="fr", title="T", metadata=meta)
    scored = candidate_to_node(cand, "dense-center")
    node = scored.node
    assert scored.score == 0.5 and node.node_id == "doc#2" and node.get_content() == "Texte."
    assert node.metadata == {"doc_id": "doc", "lang": "fr", **meta, "title": "T", "retriever": "dense-center"}
    assert (node.start_char_idx, node.end_char_idx) == (10, 16)
    assert node.relationships[NodeRelationship.SOURCE].node_id == "doc"
    llm_view = node.get_content(metadata_mode=MetadataMode.LLM)
    assert "lang: fr" in llm_view and "section: intro" in llm_view
    assert not any(key in llm_view for key in ("passage_index", "start:", "retriever"))
    assert "retriever" not in candidate_to_node(cand).node.metadata  # only when named

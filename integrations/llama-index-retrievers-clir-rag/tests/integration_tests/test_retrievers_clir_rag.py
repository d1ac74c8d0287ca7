"""CrossLingualRetriever in LlamaIndex on the demo index (the embedded encoder): nodes, filters, async,
inside a query engine, debiasing, idempotent indexing."""

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Document as LIDocument
from llama_index.core import Settings
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode, NodeRelationship
from llama_index.retrievers.clir_rag import CrossLingualRetriever


def test_retriever_returns_nodes_with_language_and_doc_id(demo_index_dir: Path) -> None:
    retriever = CrossLingualRetriever.from_index_dir(demo_index_dir, mode="dense", similarity_top_k=3)
    nodes = retriever.retrieve("Who discovered the drug artemisinin against malaria?")
    assert len(nodes) == 3
    top = nodes[0]
    assert top.node.metadata["doc_id"] == "de-malaria-medikament"
    assert top.node.metadata["lang"] == "de"
    assert top.node.node_id == "de-malaria-medikament#0"
    assert top.node.relationships[NodeRelationship.SOURCE].node_id == "de-malaria-medikament"
    assert [n.score for n in nodes] == sorted((n.score for n in nodes), reverse=True)
    llm_view = top.node.get_content(metadata_mode=MetadataMode.LLM)
    assert "lang: de" in llm_view and "passage_index" not in llm_view


def test_language_filter_and_async(demo_index_dir: Path) -> None:
    retriever = CrossLingualRetriever.from_index_dir(demo_index_dir, mode="hybrid", similarity_top_k=4, langs=["sw"])

    async def many() -> list:
        return await asyncio.gather(
            *(
                retriever.aretrieve(q)
                for q in [
                    "beekeeping, honey and wax",
                    "malaria symptoms and mosquito nets",
                    "the largest lake in Africa",
                ]
            )
        )

    results = asyncio.run(many())
    assert [r[0].node.metadata["doc_id"] for r in results] == ["sw-nyuki", "sw-malaria", "sw-ziwa-victoria"]
    assert all(n.node.metadata["lang"] == "sw" for r in results for n in r)


def test_from_documents_indexes_llamaindex_documents(tmp_path: Path) -> None:
    docs = [
        LIDocument(text="Der Eiffelturm ist 330 Meter hoch.", id_="eiffel", metadata={"lang": "de"}),
        LIDocument(text="长城是中国古代的军事防御工程。", id_="wall", metadata={"language": "zh", "title": "长城"}),
    ]
    retriever = CrossLingualRetriever.from_documents(docs, tmp_path / "idx", mode="dense", similarity_top_k=1)
    (node,) = retriever.retrieve("How tall is the Eiffel Tower?")
    assert node.node.metadata["doc_id"] == "eiffel"
    (node,) = retriever.retrieve("Great Wall of China")
    assert node.node.metadata["title"] == "长城"


def test_inside_a_retriever_query_engine(demo_index_dir: Path) -> None:
    Settings.llm = None  # no LLM: the engine returns the retrieved nodes only
    retriever = CrossLingualRetriever.from_index_dir(demo_index_dir, mode="hybrid", similarity_top_k=3)
    engine = RetrieverQueryEngine.from_args(retriever, response_mode="no_text")
    response = engine.query("Wer hat die Fußball-WM 2022 gewonnen?")
    assert len(response.source_nodes) == 3
    assert {"ar-kas-alalam", "en-world-cup"} & {n.node.metadata["doc_id"] for n in response.source_nodes}


def test_multilingual_index_is_debiased_by_default_and_can_be_asked_not_to(demo_index_dir: Path) -> None:
    question = "世界杯冠军最多的国家是哪个？"
    fair = CrossLingualRetriever.from_index_dir(demo_index_dir, similarity_top_k=5).retrieve(question)
    assert fair[0].node.metadata["retriever"] == "dense-center"
    assert {"en-world-cup", "de-wm-2014", "es-mundial-1986"} <= {n.node.metadata["doc_id"] for n in fair}
    biased = CrossLingualRetriever.from_index_dir(demo_index_dir, similarity_top_k=5, debias="none").retrieve(question)
    assert {n.node.metadata["lang"] for n in biased} == {"zh"}


def test_from_documents_is_idempotent_for_documents_without_ids(tmp_path: Path) -> None:
    """Issue 14 item 8: three calls with the same two documents gave 2, 4 and 6 nodes."""
    from clir_rag.index import CrossLingualIndex

    def docs() -> list[LIDocument]:  # fresh objects each time: LlamaIndex gives each a new random id
        return [
            LIDocument(text="Der Rhein mündet in die Nordsee.", metadata={"lang": "de"}),
            LIDocument(text="Mto Nile ni mrefu.", metadata={"lang": "sw", "file_path": "sw/nile.txt"}),
        ]

    for _ in range(3):
        CrossLingualRetriever.from_documents(docs(), tmp_path / "idx")
    index = CrossLingualIndex(tmp_path / "idx")
    assert len(index) == 2
    assert sorted(index.store.stored_documents(["sw/nile.txt"])) == ["sw/nile.txt"]  # named by its source
    explicit = LIDocument(text="Explicit.", id_="my-id", metadata={"lang": "en"})
    CrossLingualRetriever.from_documents([explicit], tmp_path / "idx")
    assert "my-id" in CrossLingualIndex(tmp_path / "idx").store.stored_documents(["my-id"])

"""The three LlamaIndex packages together: cross-lingual retriever -> LLM reranker in a query engine."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Settings
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.postprocessor.clir_rag import ListwiseLLMRerank
from llama_index.retrievers.clir_rag import CrossLingualRetriever

from clir_rag.llm import LLMClient


def test_in_a_query_engine_with_the_cross_lingual_retriever(local_llm, demo_index_dir: Path) -> None:
    Settings.llm = None
    retriever = CrossLingualRetriever.from_index_dir(demo_index_dir, similarity_top_k=4)
    rerank = ListwiseLLMRerank(LLMClient(local_llm), window=4, step=2, depth=4, max_passage_tokens=40, top_n=2)
    engine = RetrieverQueryEngine.from_args(retriever, node_postprocessors=[rerank], response_mode="no_text")
    response = engine.query("Mlima mrefu zaidi barani Afrika una urefu gani?")
    assert len(response.source_nodes) == 2
    assert all("lang" in n.node.metadata for n in response.source_nodes)
    assert {n.node.metadata["first_stage_rank"] for n in response.source_nodes} <= {1, 2, 3, 4}

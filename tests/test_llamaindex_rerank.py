"""ListwiseLLMRerank / PairwiseLLMRerank as LlamaIndex node postprocessors, on the embedded GGUF."""

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core import Settings
from llama_index.core.prompts import PromptTemplate
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode
from llama_index.postprocessor.clir_rag import ListwiseLLMRerank, PairwiseLLMRerank
from llama_index.retrievers.clir_rag import CrossLingualRetriever

from clir_rag.llm import LLMClient
from tests.llm_faults import FaultyLLM

QUESTION = "Who discovered the drug artemisinin against malaria?"


@pytest.fixture(scope="module")
def nodes(demo_index_dir: Path):
    return CrossLingualRetriever.from_index_dir(demo_index_dir, similarity_top_k=5).retrieve(QUESTION)


def test_listwise_postprocessor_reorders_and_reports(local_llm, nodes) -> None:
    rerank = ListwiseLLMRerank(LLMClient(local_llm), window=5, step=3, depth=5, max_passage_tokens=50, top_n=3)
    out = rerank.postprocess_nodes(nodes, query_str=QUESTION)
    assert len(out) == 3
    assert {n.node.node_id for n in out} <= {n.node.node_id for n in nodes}
    assert [n.score for n in out] == [5.0, 4.0, 3.0]
    by_id = {n.node.node_id: n for n in nodes}
    for n in out:
        assert n.node.metadata["first_stage_score"] == by_id[n.node.node_id].score
        assert "first_stage_score" not in n.node.get_content(metadata_mode=MetadataMode.LLM)
    assert "first_stage_score" not in nodes[0].node.metadata  # the caller's nodes are not modified
    report = rerank.last_report
    assert report is not None and report.usage.calls == 1
    assert report.windows_ok + report.windows_repaired + report.windows_failed == 1


def test_prompts_are_exposed_through_the_prompt_mixin() -> None:
    llm = FaultyLLM([], default="[2] > [1]")
    rerank = ListwiseLLMRerank(LLMClient(llm), window=2, step=1, depth=2)
    assert set(rerank.get_prompts()) == {"system_prompt", "listwise_prompt"}
    rerank.update_prompts({"listwise_prompt": PromptTemplate("Order {num} passages for: {query}\n{passages}")})
    assert rerank.get_prompts()["listwise_prompt"].get_template().startswith("Order {num}")
    pair = PairwiseLLMRerank(LLMClient(FaultyLLM([])), mode="generate")
    assert set(pair.get_prompts()) == {"pairwise_prompt"}


def test_custom_prompt_reaches_the_model() -> None:
    seen = []

    class Recording(FaultyLLM):
        def generate(self, messages, **kw):
            seen.append(messages[-1]["content"])
            return super().generate(messages, **kw)

    from llama_index.core.schema import NodeWithScore, TextNode

    rerank = ListwiseLLMRerank(LLMClient(Recording([], default="[2] > [1]")), window=2, step=1, depth=2)
    rerank.update_prompts({"listwise_prompt": PromptTemplate("CUSTOM {num} for {query}:\n{passages}")})
    nodes = [NodeWithScore(node=TextNode(text=t), score=s) for t, s in [("alpha", 0.9), ("beta", 0.5)]]
    out = rerank.postprocess_nodes(nodes, query_str="q")
    assert seen and seen[0].startswith("CUSTOM 2 for q")
    assert [n.node.get_content() for n in out] == ["beta", "alpha"]


def test_pairwise_postprocessor_async(local_llm, nodes) -> None:
    rerank = PairwiseLLMRerank(LLMClient(local_llm), method="heap", depth=4, top_k=2, max_passage_tokens=50, top_n=2)
    out = asyncio.run(rerank.apostprocess_nodes(nodes, query_str=QUESTION))
    assert len(out) == 2 and out[0].score > out[1].score
    assert rerank.last_report.comparisons >= 3
    assert rerank.total_report.queries == 1


def test_in_a_query_engine_with_the_cross_lingual_retriever(local_llm, demo_index_dir: Path) -> None:
    Settings.llm = None
    retriever = CrossLingualRetriever.from_index_dir(demo_index_dir, similarity_top_k=4)
    rerank = ListwiseLLMRerank(LLMClient(local_llm), window=4, step=2, depth=4, max_passage_tokens=40, top_n=2)
    engine = RetrieverQueryEngine.from_args(retriever, node_postprocessors=[rerank], response_mode="no_text")
    response = engine.query("Mlima mrefu zaidi barani Afrika una urefu gani?")
    assert len(response.source_nodes) == 2
    assert all("lang" in n.node.metadata for n in response.source_nodes)


def test_missing_query_is_a_clear_error() -> None:
    from llama_index.core.schema import NodeWithScore, TextNode

    rerank = ListwiseLLMRerank(LLMClient(FaultyLLM([])), window=2, step=1)
    with pytest.raises(ValueError, match="needs the query"):
        rerank.postprocess_nodes([NodeWithScore(node=TextNode(text="x"), score=1.0)])


def test_stacked_rerankers_keep_the_first_stage_rank() -> None:
    """Issue 14 item 13: stacking two rerankers overwrote first_stage_rank with the first reranker's order."""
    from llama_index.core.schema import NodeWithScore, TextNode

    first = ListwiseLLMRerank(LLMClient(FaultyLLM([], default="[3] > [2] > [1]")), window=3, step=1, depth=3)
    second = ListwiseLLMRerank(LLMClient(FaultyLLM([], default="[1] > [2] > [3]")), window=3, step=1, depth=3)
    nodes = [NodeWithScore(node=TextNode(text=t, id_=t), score=s) for t, s in [("a", 0.9), ("b", 0.5), ("c", 0.1)]]
    out = second.postprocess_nodes(first.postprocess_nodes(nodes, query_str="q"), query_str="q")
    assert [n.node.node_id for n in out] == ["c", "b", "a"]
    assert [n.node.metadata["first_stage_rank"] for n in out] == [3, 2, 1]
    assert [n.node.metadata["first_stage_score"] for n in out] == [0.1, 0.5, 0.9]

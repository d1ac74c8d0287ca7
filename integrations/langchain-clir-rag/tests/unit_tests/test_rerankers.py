"""The LLM rerankers as LangChain document compressors on scripted LLMs: stacked, under concurrent async
calls, and with a LangChain chat model as the LLM."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("langchain_core")
from langchain_clir_rag import ListwiseLLMReranker, PairwiseLLMReranker
from langchain_core.documents import Document

from clir_rag.testing.llm_faults import FaultyLLM


def _docs() -> list[Document]:
    return [Document(page_content=t, id=t, metadata={"score": s}) for t, s in [("a", 0.9), ("b", 0.5), ("c", 0.1)]]


def test_stacked_rerankers_report_the_first_stage() -> None:
    first = ListwiseLLMReranker(llm=FaultyLLM([], default="[3] > [2] > [1]"), window=3, step=1, depth=3)
    second = PairwiseLLMReranker(llm=FaultyLLM([], default="Passage A"), mode="generate", method="allpairs", depth=3)
    out = second.compress_documents(first.compress_documents(_docs(), "q"), "q")
    assert [d.metadata["first_stage_rank"] for d in out] == [{"a": 1, "b": 2, "c": 3}[d.id] for d in out]
    assert sorted(d.metadata["first_stage_score"] for d in out) == [0.1, 0.5, 0.9]
    assert out[0].metadata["rerank_report"]["reranker"] == "pairwise-allpairs"


def test_concurrent_async_calls_each_get_their_own_report() -> None:
    reranker = ListwiseLLMReranker(llm=FaultyLLM([], default="[2] > [1] > [3]"), window=3, step=1, depth=3)

    async def many() -> list:
        return list(await asyncio.gather(*(reranker.acompress_documents(_docs(), f"q{i}") for i in range(8))))

    results = asyncio.run(many())
    assert all([d.id for d in r] == ["b", "a", "c"] for r in results)
    assert all(r[0].metadata["rerank_report"]["llm_calls"] == 1 for r in results)  # one call each, not summed
    assert [r[0].metadata["rerank_report"]["query"] for r in results] == [f"q{i}" for i in range(8)]
    reranker.window = 2  # fields are read at call time
    assert reranker.compress_documents(_docs(), "q")[0].metadata["rerank_report"]["llm_calls"] == 2


def test_a_langchain_chat_model_serves_as_the_llm() -> None:
    """The wiring only; ChatOpenAI on the real local server drives a reranker in tests/test_openai_server.py."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    reranker = ListwiseLLMReranker(llm=FakeListChatModel(responses=["[2] > [1] > [3]"]), window=3, step=1, depth=3)
    assert [d.id for d in reranker.compress_documents(_docs(), "q")] == ["b", "a", "c"]

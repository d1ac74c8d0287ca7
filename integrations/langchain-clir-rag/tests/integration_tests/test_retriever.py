"""CrossLingualRetriever in LangChain: documents in many languages, metadata, idempotent indexing, async."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("langchain_core")
from langchain_clir_rag import CrossLingualRetriever
from langchain_core.documents import Document

DOCS = [
    Document(page_content="Tu Youyou entdeckte das Artemisinin, ein Mittel gegen Malaria.", metadata={"lang": "de"}),
    Document(page_content="屠呦呦发现了青蒿素，这是一种治疗疟疾的药物。", metadata={"lang": "zh"}),
    Document(
        page_content="Mlima Kilimanjaro ndio mlima mrefu zaidi barani Afrika.", metadata={"source": "sw/kili.txt"}
    ),
    Document(
        page_content="Le café est originaire des hauts plateaux d'Éthiopie.", id="fr-cafe", metadata={"lang": "fr"}
    ),
]


def test_answers_come_from_several_languages_with_their_provenance(tmp_path: Path) -> None:
    retriever = CrossLingualRetriever.from_documents(DOCS, tmp_path / "idx", k=2)
    docs = retriever.invoke("Who discovered artemisinin?")
    assert {d.metadata["lang"] for d in docs} == {"de", "zh"}  # the answer in two languages, not only one
    assert [d.metadata["rank"] for d in docs] == [1, 2] and docs[0].metadata["score"] >= docs[1].metadata["score"]
    assert all(d.id and d.id.startswith(d.metadata["doc_id"] + "#") for d in docs)
    only_zh = retriever.invoke("Who discovered artemisinin?", k=3)
    assert len(only_zh) == 3
    retriever.langs = ["zh"]  # fields are read at call time
    assert {d.metadata["lang"] for d in retriever.invoke("Who discovered artemisinin?")} == {"zh"}


def test_indexing_the_same_documents_again_adds_nothing(tmp_path: Path) -> None:
    from clir_rag.index import CrossLingualIndex

    for _ in range(3):
        CrossLingualRetriever.from_documents(DOCS, tmp_path / "idx")
    index = CrossLingualIndex(tmp_path / "idx")
    assert len(index) == 4
    assert set(index.store.stored_documents(["sw/kili.txt", "fr-cafe"])) == {"sw/kili.txt", "fr-cafe"}


def test_concurrent_async_queries_each_get_their_own_answer(tmp_path: Path) -> None:
    retriever = CrossLingualRetriever.from_documents(DOCS, tmp_path / "idx", k=1)
    questions = ["Who discovered artemisinin?", "Which is the highest mountain in Africa?", "Where is coffee from?"]

    async def ask() -> list[list[Document]]:
        return list(await asyncio.gather(*(retriever.ainvoke(q) for q in questions * 3)))

    answers = asyncio.run(ask())
    assert [a[0].metadata["doc_id"] for a in answers[:3]] == [
        answers[0][0].metadata["doc_id"],
        "sw/kili.txt",
        "fr-cafe",
    ]
    assert all(a == b for a, b in zip(answers[:3], answers[3:6], strict=True))

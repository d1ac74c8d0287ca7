"""An LCEL chain end to end on the real local server: CrossLingualRetriever -> ListwiseLLMReranker -> ChatOpenAI.

ChatOpenAI (langchain-openai) talks to the llama.cpp OpenAI-compatible server on 127.0.0.1 that
serves the embedded GGUF; it drives the reranker (through LangChainLLM) and writes the answer.
Also: TranslationTransformer with that chat model as translator, and ClirRagChatModel offline.
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("langchain_core")
langchain_openai = pytest.importorskip("langchain_openai")

from langchain_clir_rag import ClirRagChatModel, CrossLingualRetriever, TranslationTransformer  # noqa: E402
from langchain_core.documents import Document  # noqa: E402

from clir_rag.errors import InputError  # noqa: E402
from clir_rag.rag.citations import citations  # noqa: E402

QUESTION = "On which day did the Berlin Wall open?"  # answered only by the German and Russian documents
# the repository's examples/ folder: this package's tests run from a source checkout
EXAMPLES = Path(__file__).resolve().parents[4] / "examples"


def _example(name: str) -> ModuleType:
    """The example script ``examples/<name>.py``, imported from its file (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"clir_rag_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None, f"no example {name} in {EXAMPLES}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def chat(llm_server: str):
    return langchain_openai.ChatOpenAI(
        model="qwen", base_url=llm_server, api_key="none", temperature=0.0, max_retries=0, max_tokens=64
    )


def test_retriever_reranker_chatopenai_chain_cites_a_retrieved_document(demo_index_dir: Path, chat) -> None:
    # the chain of examples/langchain_qa_chain.py, with ChatOpenAI as its chat model
    chain = _example("langchain_qa_chain").build_chain(demo_index_dir, chat)
    retriever = CrossLingualRetriever(index_dir=str(demo_index_dir), k=4)
    result = chain.invoke(QUESTION)
    first_stage = [d.id for d in retriever.invoke(QUESTION)]
    docs = result["docs"]
    assert len(docs) == 2
    for doc in docs:  # reranked documents carry their first-stage rank, and it is their place in that ranking
        assert first_stage[doc.metadata["first_stage_rank"] - 1] == doc.id
        assert doc.metadata["rerank_report"]["query"] == QUESTION and doc.metadata["rerank_report"]["failures"] == 0
    assert {d.metadata["lang"] for d in docs} == {"de", "ru"}  # the answer lives in German and Russian only
    cited = citations(result["answer"], max_number=len(docs))
    assert cited, f"no citation of a retrieved passage in {result['answer']!r}"
    assert all("1989" in docs[n - 1].page_content for n in cited)
    assert "1989" in result["answer"]


def test_translation_transformer_translates_into_the_query_language_and_restores(chat) -> None:
    docs = [
        Document(page_content="Der Hund schläft im Haus.", id="d-de", metadata={"lang": "de"}),
        Document(page_content="The cat sleeps on the sofa.", id="d-en", metadata={"lang": "en"}),
    ]
    translate = TranslationTransformer(llm=chat)
    out = translate.transform_documents(docs, query="Where does the dog sleep?")
    assert out[1] is docs[1]  # already English: unchanged
    de = out[0]
    assert de.id == "d-de" and de.metadata["lang"] == "en" and de.metadata["original_lang"] == "de"
    assert (
        de.metadata["original_text"] == "Der Hund schläft im Haus." and de.page_content != de.metadata["original_text"]
    )
    assert "dog" in de.page_content.lower()
    assert docs[0].metadata == {"lang": "de"}  # the caller's documents are not modified
    back = TranslationTransformer(restore_originals=True).transform_documents(out)
    assert [d.page_content for d in back] == [d.page_content for d in docs]
    assert [d.metadata for d in back] == [d.metadata for d in docs]
    # per call: another target, awaited
    german = asyncio.run(translate.atransform_documents(docs, target_lang="de"))
    assert german[0] is docs[0] and german[1].metadata["original_lang"] == "en" and german[1].metadata["lang"] == "de"


def test_clir_rag_chat_model_answers_offline(local_llm) -> None:
    chat = ClirRagChatModel(llm=local_llm, max_tokens=8)
    reply = chat.invoke([("system", "Reply in one word."), ("human", "Say yes.")])
    assert reply.content and reply.usage_metadata and 0 < reply.usage_metadata["output_tokens"] <= 8
    assert chat.invoke("Count: 1, 2, 3,", stop=[","], max_tokens=16).content.count(",") == 0
    chunks = list(chat.stream("Name three colours in German, comma separated.", max_tokens=24))
    assert len([c for c in chunks if c.content]) > 3  # token by token, then the counts
    whole = sum(chunks[1:], chunks[0])
    assert whole.content and whole.usage_metadata and whole.usage_metadata["output_tokens"] > 3
    answers = asyncio.run(chat.abatch(["Say yes.", "Say no."]))
    assert len(answers) == 2 and all(a.content for a in answers)
    assert chat.client.usage.calls == 5
    with pytest.raises(InputError, match="message 0: 'tool' messages are not supported"):
        from langchain_core.messages import ToolMessage

        chat.invoke([ToolMessage(content="x", tool_call_id="1")])

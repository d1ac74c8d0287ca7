"""ClirRagLLM: clir-rag's backends (the embedded GGUF here) as a LlamaIndex LLM."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_index.core")


def test_clir_rag_llm_is_a_llamaindex_llm(local_llm) -> None:
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.llms.clir_rag import ClirRagLLM

    llm = ClirRagLLM(local_llm, max_tokens=8)
    assert llm.metadata.is_chat_model and local_llm.model in llm.metadata.model_name
    reply = llm.chat([ChatMessage(role="system", content="Reply in one word."), ChatMessage(role="user", content="Hi")])
    assert reply.message.content and reply.raw["completion_tokens"] <= 8
    assert llm.complete("Say yes.").text and llm.client.usage.calls == 2


def test_streaming_token_by_token_and_async_calls_answer(local_llm) -> None:
    import asyncio

    from llama_index.core.base.llms.types import ChatMessage, MessageRole
    from llama_index.llms.clir_rag import ClirRagLLM

    llm = ClirRagLLM(local_llm, max_tokens=24)
    chunks = list(llm.stream_complete("Name three colours in German, comma separated."))
    assert len(chunks) > 3 and all(c.text == "".join(x.delta for x in chunks[: i + 1]) for i, c in enumerate(chunks))
    chat = list(llm.stream_chat([ChatMessage(role="user", content="Count from one to five in words.")]))
    assert len(chat) > 3 and chat[-1].message.content == "".join(c.delta for c in chat)
    assert chat[-1].message.role == MessageRole.ASSISTANT and llm.client.usage.calls == 2
    assert asyncio.run(llm.acomplete("Say no.")).text

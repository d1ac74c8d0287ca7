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


def test_streaming_and_async_calls_answer(local_llm) -> None:
    import asyncio

    from llama_index.llms.clir_rag import ClirRagLLM

    llm = ClirRagLLM(local_llm, max_tokens=4)
    chunks = list(llm.stream_complete("Say yes."))
    assert len(chunks) == 1 and chunks[0].text and chunks[0].delta == chunks[0].text  # the backends answer whole
    assert asyncio.run(llm.acomplete("Say no.")).text

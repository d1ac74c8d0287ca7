"""ClirRagLLM's adapter logic on scripted clir-rag backends (no model): what LlamaIndex reads from it, the
messages the backend receives, and calls going through clir-rag's LLMClient."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("llama_index.core")

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.llms.clir_rag import ClirRagLLM

from clir_rag.errors import LLMUnavailableError
from clir_rag.llm import LLMClient
from clir_rag.testing.llm_faults import DOWN, TRANSIENT, FaultyLLM


def test_metadata_names_the_backend_and_its_budgets() -> None:
    meta = ClirRagLLM(FaultyLLM([]), max_tokens=12).metadata
    assert meta.is_chat_model and meta.model_name == "fault:script"
    assert meta.context_window == 4096 and meta.num_output == 12


def test_chat_messages_reach_the_backend_as_chat_messages() -> None:
    backend = FaultyLLM(["Ja.", "Yes."])
    llm = ClirRagLLM(backend)
    reply = llm.chat([ChatMessage(role="system", content="Antworte kurz."), ChatMessage(role="user", content="Hi")])
    assert backend.seen == [[{"role": "system", "content": "Antworte kurz."}, {"role": "user", "content": "Hi"}]]
    assert reply.message.role == MessageRole.ASSISTANT and reply.message.content == "Ja."
    assert reply.raw == {"prompt_tokens": 10, "completion_tokens": 3}
    assert llm.complete("Say yes.").text == "Yes." and backend.seen[-1] == [{"role": "user", "content": "Say yes."}]
    assert llm.client.usage.calls == 2


def test_a_backend_that_cannot_stream_streams_its_whole_reply_as_one_piece() -> None:
    llm = ClirRagLLM(FaultyLLM(["rot, grün, blau", "eins zwei"]))
    (only,) = list(llm.stream_complete("Colours?"))
    assert only.text == only.delta == "rot, grün, blau"
    (chat,) = list(llm.stream_chat([ChatMessage(role="user", content="Count.")]))
    assert chat.message.content == chat.delta == "eins zwei" and chat.message.role == MessageRole.ASSISTANT


def test_calls_go_through_the_client_its_retries_and_its_errors() -> None:
    backend = FaultyLLM([TRANSIENT, "after a retry"])
    client = LLMClient(backend, backoff=0.0)
    llm = ClirRagLLM(client)
    assert llm.client is client  # a client handed in is used as it is
    assert asyncio.run(llm.acomplete("q")).text == "after a retry" and backend.calls == 2
    with pytest.raises(LLMUnavailableError, match="cannot reach the server"):
        ClirRagLLM(FaultyLLM([DOWN])).chat([ChatMessage(role="user", content="q")])

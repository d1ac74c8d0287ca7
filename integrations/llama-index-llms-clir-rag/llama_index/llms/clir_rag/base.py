"""clir-rag's LLM backends (embedded GGUF, llama.cpp, OpenAI-compatible, transformers) as a LlamaIndex LLM.

So that a query engine can synthesize answers offline with the embedded model:
``Settings.llm = ClirRagLLM()``. Calls go through :class:`clir_rag.llm.LLMClient`,
so they are cached (with ``cache=``), retried and timed out like every other
LLM call in clir-rag. Chat messages are passed to the backend as chat
messages (its own chat template applies), not flattened into one prompt.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM

from clir_rag.llm import LLMClient, Message
from clir_rag.llm.base import LLM as ClirLLM


class ClirRagLLM(CustomLLM):
    """A LlamaIndex LLM over a clir-rag backend; None gives the embedded GGUF (offline)."""

    max_tokens: int = Field(default=256, description="Tokens to generate at most per call.")
    temperature: float = Field(default=0.0, description="Sampling temperature (0: greedy, cacheable).")
    _client: LLMClient = PrivateAttr()

    def __init__(self, llm: ClirLLM | LLMClient | None = None, *, cache: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if llm is None:
            from clir_rag.llm import default_llm

            llm = default_llm()
        self._client = llm if isinstance(llm, LLMClient) else LLMClient(llm, cache=cache)

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "ClirRagLLM"

    @property
    def client(self) -> LLMClient:
        """The clir-rag :class:`~clir_rag.llm.LLMClient` behind this LLM (cache, retries, usage)."""
        return self._client

    @property
    def metadata(self) -> LLMMetadata:
        """Context window, output budget and model name, as LlamaIndex's prompt helpers read them."""
        backend = self._client.llm
        return LLMMetadata(
            context_window=backend.context_window,
            num_output=self.max_tokens,
            is_chat_model=True,
            model_name=f"{backend.backend}:{backend.model}",
        )

    def _generate(self, messages: Sequence[Message], **kwargs: Any) -> tuple[str, dict[str, Any]]:
        done = self._client.generate(
            messages,
            max_tokens=kwargs.get("max_tokens", self.max_tokens),
            stop=kwargs.get("stop"),
            temperature=kwargs.get("temperature", self.temperature),
        )
        return done.text, {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens}

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Answer ``messages``; ``max_tokens``, ``stop`` and ``temperature`` may be passed per call."""
        text, usage = self._generate(_ours(messages), **kwargs)
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), raw=usage)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Answer ``prompt`` as a single user message."""
        text, usage = self._generate([{"role": "user", "content": prompt}], **kwargs)
        return CompletionResponse(text=text, raw=usage)

    def _stream(self, messages: Sequence[Message], **kwargs: Any) -> Iterator[str]:
        return self._client.stream(
            messages,
            max_tokens=kwargs.get("max_tokens", self.max_tokens),
            stop=kwargs.get("stop"),
            temperature=kwargs.get("temperature", self.temperature),
        )

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        """The answer to ``prompt`` as the backend writes it: each response holds the text so far and its ``delta``."""
        pieces = self._stream([{"role": "user", "content": prompt}], **kwargs)

        def responses() -> CompletionResponseGen:
            text = ""
            for piece in pieces:
                text += piece
                yield CompletionResponse(text=text, delta=piece)

        return responses()

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """:meth:`chat`'s answer as the backend writes it: each response holds the message so far and its ``delta``."""
        pieces = self._stream(_ours(messages), **kwargs)

        def responses() -> ChatResponseGen:
            text = ""
            for piece in pieces:
                text += piece
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece)

        return responses()


def _ours(messages: Sequence[ChatMessage]) -> list[Message]:
    """LlamaIndex chat messages as clir-rag's."""
    return [
        {"role": m.role.value if isinstance(m.role, MessageRole) else str(m.role), "content": m.content or ""}
        for m in messages
    ]

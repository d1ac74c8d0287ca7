"""``ClirRagChatModel``: clir-rag's LLM backends (the embedded offline GGUF by default) as a LangChain chat model."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

from clir_rag.errors import InputError
from clir_rag.llm import LLMClient, Message, Usage
from langchain_clir_rag._clients import ClientFor

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class ClirRagChatModel(BaseChatModel):
    """A LangChain chat model over a clir-rag backend, so a LangChain app answers offline.

    ``llm``: a clir-rag backend (``LlamaCppLLM``, ``OpenAICompatibleLLM``, ``TransformersLLM``)
    or :class:`~clir_rag.llm.LLMClient`; None loads the embedded Qwen2.5-Coder-0.5B-Instruct
    GGUF in-process on first use. Calls go through ``LLMClient``: cached (``cache_path=`` a
    SQLite file), retried and timed out like every LLM call in clir-rag. Messages reach the backend as
    chat messages (its own chat template applies). ``max_tokens``, ``temperature`` and ``stop``
    may be passed per call (``.invoke(..., max_tokens=32)`` or ``.bind(...)``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llm: Any = None
    # not "cache": that is LangChain's own response cache on every chat model
    cache_path: str | None = Field(None, description="a SQLite file that caches answers (greedy calls only)")
    max_tokens: int = Field(256, ge=1, description="tokens to generate at most per call")
    temperature: float = Field(0.0, ge=0.0, description="sampling temperature (0: greedy, cacheable)")
    stop: list[str] | None = Field(None, description="stop sequences for every call (a call's own ``stop`` wins)")
    _clients: ClientFor = PrivateAttr(default_factory=ClientFor)

    @property
    def _llm_type(self) -> str:
        return "clir-rag"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        backend = self.client.llm
        return {"backend": backend.backend, "model": backend.model, "max_tokens": self.max_tokens}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        """What LangSmith traces name the model by; the embedded GGUF is named without loading it."""
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "clir-rag"
        params["ls_model_name"] = str(kwargs.get("model") or self._model_name())
        if stop or self.stop:
            params["ls_stop"] = list(stop or self.stop or [])
        params["ls_temperature"] = float(kwargs.get("temperature", self.temperature))
        params["ls_max_tokens"] = int(kwargs.get("max_tokens", self.max_tokens))
        return params

    def _response_metadata(self) -> dict[str, Any]:
        # LangChain's usage callbacks key token counts by model_name
        backend = self.client.llm
        return {"model_name": str(backend.model), "model_provider": "clir-rag", "backend": backend.backend}

    def _model_name(self) -> str:
        if self.llm is None:
            from clir_rag.llm.models import DEFAULT_GGUF_NAME

            return DEFAULT_GGUF_NAME
        backend = self.llm.llm if isinstance(self.llm, LLMClient) else self.llm
        return str(getattr(backend, "model", None) or getattr(backend, "model_name", None) or type(backend).__name__)

    @property
    def client(self) -> LLMClient:
        """The clir-rag :class:`~clir_rag.llm.LLMClient` behind this model (cache, retries, usage)."""
        return self._clients.get(self.llm, self.cache_path)

    @staticmethod
    def _messages(messages: list[BaseMessage]) -> list[Message]:
        out: list[Message] = []
        for i, m in enumerate(messages):
            role = _ROLES.get(m.type)
            if role is None:
                raise InputError(f"message {i}: {m.type!r} messages are not supported (system, human, ai are)")
            out.append({"role": role, "content": m.text if hasattr(m, "text") else str(m.content)})
        return out

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        done = self.client.generate(
            self._messages(messages),
            max_tokens=int(kwargs.get("max_tokens", self.max_tokens)),
            stop=stop or self.stop,
            temperature=float(kwargs.get("temperature", self.temperature)),
        )
        usage = UsageMetadata(
            input_tokens=done.prompt_tokens,
            output_tokens=done.completion_tokens,
            total_tokens=done.prompt_tokens + done.completion_tokens,
        )
        message = AIMessage(content=done.text, usage_metadata=usage, response_metadata=self._response_metadata())
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # the reply as the backend writes it (token by token for llama.cpp and OpenAI-compatible servers),
        # then an empty chunk with the token counts
        usage = Usage()
        for piece in self.client.stream(
            self._messages(messages),
            max_tokens=int(kwargs.get("max_tokens", self.max_tokens)),
            stop=stop or self.stop,
            temperature=float(kwargs.get("temperature", self.temperature)),
            usage=usage,
        ):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        counts = UsageMetadata(
            input_tokens=usage.prompt_tokens,
            output_tokens=usage.completion_tokens,
            total_tokens=usage.prompt_tokens + usage.completion_tokens,
        )
        last = AIMessageChunk(content="", usage_metadata=counts, response_metadata=self._response_metadata())
        yield ChatGenerationChunk(message=last)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # the backends block (a local model computes, a server call waits): keep the event loop free
        return await asyncio.to_thread(self._generate, messages, stop, None, **kwargs)

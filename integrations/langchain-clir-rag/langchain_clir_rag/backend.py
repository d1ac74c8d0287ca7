"""Any LangChain chat model as a clir-rag backend (so a LangChain app can reuse its configured model)."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel

from clir_rag.errors import LLMError
from clir_rag.llm.base import BaseLLM, Completion, Message


class LangChainLLM(BaseLLM):
    """Wraps a ``langchain_core`` ``BaseChatModel`` (``ChatOpenAI``, ``ChatOllama``, ...).

    ``max_tokens``, ``stop`` and ``temperature`` are passed per call where the model
    takes them (bound with ``.bind``); stop sequences are applied to the answer here too,
    since not every provider honours them. ``context_window`` is what prompts are cut to.
    """

    backend = "langchain"

    def __init__(self, chat_model: Any, *, context_window: int = 4096) -> None:
        if not isinstance(chat_model, BaseChatModel):
            raise TypeError(f"expected a LangChain chat model, got {type(chat_model).__name__}")
        self._model = chat_model
        name = getattr(chat_model, "model_name", None) or getattr(chat_model, "model", None) or ""
        self.model = f"{type(chat_model).__name__}:{name}"
        self.context_window = context_window
        # an OpenAI-compatible endpoint is part of the cache key (LLMClient reads base_url)
        self.base_url = getattr(chat_model, "openai_api_base", None) or getattr(chat_model, "base_url", None)

    def _generate(self, messages: list[Message], *, max_tokens: int, stop: list[str], temperature: float) -> Completion:
        roles = {"system": "system", "user": "human", "assistant": "ai"}
        chat = [(roles.get(m["role"], m["role"]), m["content"]) for m in messages]
        try:
            reply = self._model.invoke(chat, max_tokens=max_tokens, stop=stop or None, temperature=temperature)
        except Exception as e:  # providers raise their own errors
            raise LLMError(f"{self.model}: {type(e).__name__}: {e}") from e
        usage = getattr(reply, "usage_metadata", None) or {}
        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        return Completion(text, int(usage.get("input_tokens", 0) or 0), int(usage.get("output_tokens", 0) or 0))

"""Any LlamaIndex ``LLM`` as a clir-rag backend (so a LlamaIndex app can reuse its configured LLM)."""

from __future__ import annotations

from typing import Any

from clir_rag.errors import LLMError
from clir_rag.llm.base import BaseLLM, Completion, Message


class LlamaIndexLLM(BaseLLM):
    """Wraps ``llama_index.core.llms.LLM``. Stop sequences are applied to the answer here,
    since LlamaIndex LLMs do not share one way to pass them."""

    backend = "llamaindex"

    def __init__(self, llm: Any) -> None:
        from llama_index.core.llms import LLM as LIBase

        if not isinstance(llm, LIBase):
            raise TypeError(f"expected a llama_index.core LLM, got {type(llm).__name__}")
        self._llm = llm
        meta = llm.metadata
        self.model = f"{type(llm).__name__}:{meta.model_name}"
        self.context_window = int(meta.context_window)

    def _generate(self, messages: list[Message], *, max_tokens: int, stop: list[str], temperature: float) -> Completion:
        from llama_index.core.llms import ChatMessage

        try:
            resp = self._llm.chat([ChatMessage(role=m["role"], content=m["content"]) for m in messages])
        except Exception as e:  # LlamaIndex LLMs raise their providers' own errors
            raise LLMError(f"{self.model}: {type(e).__name__}: {e}") from e
        raw = resp.raw if isinstance(resp.raw, dict) else {}
        return Completion.from_usage(resp.message.content or "", raw.get("usage"))

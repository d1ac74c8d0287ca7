"""One :class:`~clir_rag.llm.LLMClient` per component and ``llm`` value, whatever ``llm`` is given as."""

from __future__ import annotations

import threading
from typing import Any

from langchain_core.language_models import BaseChatModel

from clir_rag.llm import LLMClient
from langchain_clir_rag.backend import LangChainLLM


def to_client(llm: Any, cache: str | None = None) -> LLMClient:
    """``llm`` as a client: None loads the embedded GGUF; a LangChain chat model is wrapped; a client stays."""
    if isinstance(llm, LLMClient):
        return llm
    if llm is None:
        from clir_rag.llm import default_llm

        llm = default_llm()
    elif isinstance(llm, BaseChatModel):  # any LangChain chat model serves as the LLM
        llm = LangChainLLM(llm)
    return LLMClient(llm, cache=cache)


class ClientFor:
    """The client for a component's current ``llm`` field, built once per value (one cache, pool, breaker).

    Thread-safe: two first calls at once must not load the embedded model twice. A new value
    of the field (the user swapped the model) gets a new client at the next call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: tuple[Any, LLMClient] | None = None

    def get(self, llm: Any, cache: str | None = None) -> LLMClient:
        """The client for ``llm``, built on first use."""
        with self._lock:
            if self._built is None or self._built[0] is not llm:
                self._built = (llm, to_client(llm, cache))
            return self._built[1]

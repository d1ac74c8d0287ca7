"""LLM backends behind one protocol, and a client that makes calls cheap and safe.

Backends: :class:`OpenAICompatibleLLM` (any OpenAI-compatible server),
:class:`LlamaCppLLM` (in-process GGUF; the embedded default model),
:class:`TransformersLLM` (local Hugging Face causal LM). :class:`LLMClient`
adds caching, retries, timeouts, a concurrency limit and usage accounting.
The framework adapters live in the integration packages: ``LlamaIndexLLM`` in
``llama-index-postprocessor-clir-rag`` and ``LangChainLLM`` in ``langchain-clir-rag``.
"""

from clir_rag.cache import SqliteCache
from clir_rag.deprecation import renamed
from clir_rag.llm.base import (
    LLM,
    Completion,
    LabelScorer,
    Message,
    StreamingLLM,
    supports_label_scores,
    supports_streaming,
)
from clir_rag.llm.client import LLMClient
from clir_rag.llm.usage import Usage

__all__ = [
    "LLM",
    "Completion",
    "LLMClient",
    "LabelScorer",
    "Message",
    "SqliteCache",
    "StreamingLLM",
    "Usage",
    "default_llm",
    "load_llm",
    "supports_label_scores",
    "supports_streaming",
]


_RENAMED = {"LLMCache": "clir_rag.cache.SqliteCache"}  # kept for one release


def __getattr__(name: str):  # backends import heavy packages: load them on first use
    if name == "LlamaCppLLM":
        from clir_rag.llm.llamacpp import LlamaCppLLM

        return LlamaCppLLM
    if name == "TransformersLLM":
        from clir_rag.llm.transformers_backend import TransformersLLM

        return TransformersLLM
    if name == "OpenAICompatibleLLM":
        from clir_rag.llm.openai_backend import OpenAICompatibleLLM

        return OpenAICompatibleLLM
    if name == "LLMCache":  # the old name of SqliteCache: it warns
        return renamed(__name__, name, _RENAMED)
    raise AttributeError(name)


def default_llm(**kwargs):  # forwards to LlamaCppLLM
    """The embedded default: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M) in-process via llama.cpp."""
    from clir_rag.llm.llamacpp import LlamaCppLLM

    return LlamaCppLLM(**kwargs)


def load_llm(model: str | None = None, base_url: str | None = None) -> LLM:
    """An OpenAI-compatible server's ``model`` when ``base_url`` is given, else a GGUF in-process.

    ``model`` without ``base_url`` is a GGUF path; neither gives the embedded default.
    """
    if base_url:
        from clir_rag.llm.openai_backend import OpenAICompatibleLLM

        return OpenAICompatibleLLM(model, base_url=base_url)
    return default_llm(model_path=model) if model else default_llm()

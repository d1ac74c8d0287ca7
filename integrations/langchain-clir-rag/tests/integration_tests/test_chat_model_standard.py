"""LangChain's own conformance tests (langchain-tests) for ClirRagChatModel, on the embedded GGUF in-process.

The unit half (no model) is in unit_tests/test_chat_model_standard.py.
"""

from __future__ import annotations

from functools import cache

import pytest

pytest.importorskip("langchain_tests")
pytest.importorskip("llama_cpp", reason="needs the [local] extra")
from langchain_clir_rag import ClirRagChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests


@cache
def _model():
    """The embedded model, loaded once for every test here (each test builds its own chat model around it)."""
    from clir_rag.llm import default_llm

    return default_llm(n_ctx=4096)


class TestClirRagChatModelStandard(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ClirRagChatModel]:
        return ClirRagChatModel

    @property
    def chat_model_params(self) -> dict:
        return {"llm": _model(), "max_tokens": 32}

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return False

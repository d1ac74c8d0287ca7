"""LangChain's own unit conformance tests (langchain-tests) for ClirRagChatModel: no model is loaded.

The integration half, on the embedded GGUF, is in integration_tests/test_chat_model_standard.py.
"""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_tests")
from langchain_clir_rag import ClirRagChatModel
from langchain_tests.unit_tests import ChatModelUnitTests


class TestClirRagChatModelUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ClirRagChatModel]:
        return ClirRagChatModel

    @property
    def chat_model_params(self) -> dict:
        return {}  # the embedded GGUF is loaded on first call only: these tests never call it

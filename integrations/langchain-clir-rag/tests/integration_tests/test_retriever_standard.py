"""LangChain's own conformance tests (langchain-tests) for CrossLingualRetriever, on a real index."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import pytest

pytest.importorskip("langchain_tests")
from langchain_clir_rag import CrossLingualRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests


@cache
def _demo_index() -> str:
    """The bundled multilingual demo corpus, indexed once per test session."""
    from clir_rag.demo import build_demo_index

    path = Path(tempfile.mkdtemp(prefix="langchain-clir-rag-")) / "index"
    build_demo_index(path, progress=False)
    return str(path)


class TestCrossLingualRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[CrossLingualRetriever]:
        return CrossLingualRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"index_dir": _demo_index()}

    @property
    def retriever_query_example(self) -> str:
        return "Who discovered artemisinin?"

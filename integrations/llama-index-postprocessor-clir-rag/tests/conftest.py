"""llama-index-postprocessor-clir-rag's tests: unit_tests/ (scripted LLMs, no model) and integration_tests/
(the embedded GGUF, a cross-encoder, the demo index).

The fixtures they share with clir-rag's own tests (the demo index, the embedded GGUF, the llama.cpp
server on 127.0.0.1) are in :mod:`clir_rag.testing.fixtures`: ``pytest`` in this folder loads that
plugin (``-p``, in pyproject.toml), the repository's conftest.py loads it for the whole suite. It is not
named here: pytest refuses ``pytest_plugins`` in a conftest.py that it finds only while collecting, as
``pytest integrations`` from the repository's root would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def make_nodes() -> Callable[[list[str]], list[Any]]:
    """Builds nodes ``n0, n1, ...`` holding the given texts, scored best first as a first stage returns them."""
    from llama_index.core.schema import NodeWithScore, TextNode

    def make(texts: list[str]) -> list[NodeWithScore]:
        n = len(texts)
        return [NodeWithScore(node=TextNode(text=t, id_=f"n{i}"), score=float(n - i)) for i, t in enumerate(texts)]

    return make

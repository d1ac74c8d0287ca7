"""llama-index-retrievers-clir-rag's tests: unit_tests/ (no model, no index) and integration_tests/ (real
indexes, on the embedded encoder).

The fixtures they share with clir-rag's own tests (the demo index, the embedded GGUF, the llama.cpp
server on 127.0.0.1) are in :mod:`clir_rag.testing.fixtures`: ``pytest`` in this folder loads that
plugin (``-p``, in pyproject.toml), the repository's conftest.py loads it for the whole suite. It is not
named here: pytest refuses ``pytest_plugins`` in a conftest.py that it finds only while collecting, as
``pytest integrations`` from the repository's root would.
"""

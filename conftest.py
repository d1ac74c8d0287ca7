"""The repository's top-level conftest: loads the fixtures shared by every test folder.

They live in :mod:`clir_rag.testing.fixtures`, so that an integration package's tests, run from
its own folder, load the same ones (its pyproject.toml names the plugin with ``-p``). The core's own
fixtures are in tests/conftest.py.
"""

pytest_plugins = [
    "clir_rag.testing.fixtures",
    "tests._require_extras",  # CLIR_RAG_REQUIRE_EXTRAS=1: an import skip fails (CI)
]

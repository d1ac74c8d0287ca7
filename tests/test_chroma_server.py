"""HTTP client mode against a real Chroma server started on 127.0.0.1 (the `chroma` CLI chromadb ships)."""

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clir_rag.index import CrossLingualIndex
from clir_rag.types import Document
from tests.servers import free_port, wait_until_up


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(exe).exists():
        pytest.skip("chromadb's `chroma` server command is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, f"{url}/api/v2/heartbeat", timeout=60)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_index_and_search_through_a_chroma_server(chroma_server: str, tmp_path: Path, encoder) -> None:
    docs = [
        Document(id="de", text="Der Eiffelturm steht in Paris.", lang="de"),
        Document(id="sw", text="Ziwa Victoria ni ziwa kubwa barani Afrika.", lang="sw"),
    ]
    idx = CrossLingualIndex(tmp_path / "idx", encoder=encoder, chroma_url=chroma_server)
    assert idx.add(docs, progress=False).embedded == 2
    assert not (tmp_path / "idx" / "chroma").exists()  # vectors live on the server
    reopened = CrossLingualIndex(tmp_path / "idx")  # the manifest remembers the server
    assert reopened.add(docs, progress=False).embedded == 0
    assert reopened.search("Where is the Eiffel Tower?", k=1, mode="dense").ids == ["de#0"]
    assert reopened.search("Victoria", k=1, mode="bm25").ids == ["sw#0"]

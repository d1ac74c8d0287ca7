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


def test_language_statistics_with_vectors_on_a_chroma_server(
    chroma_server: str, tmp_path: Path, encoder, demo_docs, demo_index
) -> None:
    import numpy as np

    from clir_rag.store.stats import STATS_FILE
    from clir_rag.types import Query

    idx = CrossLingualIndex(tmp_path / "idx", encoder=encoder, chroma_url=chroma_server)
    idx.add(demo_docs[:25], progress=False)
    idx.add(demo_docs[25:], progress=False)
    assert (tmp_path / "idx" / STATS_FILE).exists()  # statistics stay in the index folder
    stats = CrossLingualIndex(tmp_path / "idx").language_stats
    got = idx.store.collection.get(include=["embeddings", "metadatas"])
    vectors, langs = np.asarray(got["embeddings"], dtype=np.float64), [m["lang"] for m in got["metadatas"]]
    assert stats.total == len(vectors) == 41
    for lang, m in stats.passages.items():
        np.testing.assert_allclose(m.mean, vectors[np.array(langs) == lang].mean(axis=0), atol=1e-9)
    question = Query(text="世界杯冠军最多的国家是哪个？", lang="zh")
    on_server = CrossLingualIndex(tmp_path / "idx").search(question, 5)
    embedded = demo_index.search(question, 5)
    assert on_server.retriever == embedded.retriever == "dense-center"
    assert on_server.ids == embedded.ids

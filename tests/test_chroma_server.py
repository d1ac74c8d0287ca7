"""HTTP client mode against a real Chroma server started on 127.0.0.1 (the `chroma` CLI chromadb ships)."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clir_rag.index import CrossLingualIndex
from clir_rag.testing.servers import free_port, serving_chroma
from clir_rag.types import Document


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    with serving_chroma(tmp_path / "server-data") as (url, _):
        yield url


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
        np.testing.assert_allclose(m.mean, vectors[np.array(langs) == lang].mean(axis=0), atol=1e-8)
    question = Query(text="世界杯冠军最多的国家是哪个？", lang="zh")
    on_server = CrossLingualIndex(tmp_path / "idx").search(question, 5)
    embedded = demo_index.search(question, 5)
    assert on_server.retriever == embedded.retriever == "dense-center"
    assert on_server.ids == embedded.ids


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clir_rag.cli", *args], capture_output=True, text=True, timeout=600)


def test_two_indexes_on_one_server_keep_their_own_passages(chroma_server: str, tmp_path: Path) -> None:
    """Issue 14 item 2: every index on a server shared the collection 'clir_passages'."""
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"id": "a1", "text": "Der Eiffelturm steht in Paris.", "lang": "de"}\n', encoding="utf-8")
    b.write_text(
        '{"id": "b1", "text": "Ziwa Victoria ni ziwa kubwa.", "lang": "sw"}\n'
        '{"id": "b2", "text": "Mlima Kilimanjaro ni mrefu.", "lang": "sw"}\n',
        encoding="utf-8",
    )
    for corpus, target in ((a, "ia"), (b, "ib")):
        done = _cli("index", str(corpus), "--index", str(tmp_path / target), "--chroma-url", chroma_server)
        assert done.returncode == 0, done.stderr
    ia, ib = CrossLingualIndex(tmp_path / "ia"), CrossLingualIndex(tmp_path / "ib")
    assert ia.manifest.collection != ib.manifest.collection
    assert len(ia) == 1 and len(ib) == 2 and len(ia.bm25) == 1 and len(ib.bm25) == 2
    assert ia.search("Paris", 5).doc_ids == ["a1"] and set(ib.search("Paris", 5).doc_ids) == {"b1", "b2"}
    # an index pointed at another's collection is refused, not mixed
    taken = _cli(
        "index", str(a), "--index", str(tmp_path / "ic"), "--chroma-url", chroma_server,
        "--collection", ib.manifest.collection,
    )  # fmt: skip
    assert taken.returncode == 1 and "belongs to another index" in taken.stderr and "Traceback" not in taken.stderr


def test_a_server_that_goes_down_is_one_line_and_search_can_point_elsewhere(tmp_path: Path) -> None:
    """Issue 14 item 5: an unreachable host printed 'error: ' and nothing else, with no way to override."""
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a1", "text": "Der Eiffelturm steht in Paris.", "lang": "de"}\n', encoding="utf-8")
    with serving_chroma(tmp_path / "data") as (url, _):
        assert _cli("index", str(corpus), "--index", str(tmp_path / "i"), "--chroma-url", url).returncode == 0
    down = _cli("search", "Paris", "--index", str(tmp_path / "i"))
    assert down.returncode == 1 and "Traceback" not in down.stderr
    assert f"cannot reach the Chroma server at {url}" in down.stderr.strip().splitlines()[-1]
    # the same data served elsewhere: search is told where
    with serving_chroma(tmp_path / "data") as (moved, _):
        found = _cli("search", "Paris", "--index", str(tmp_path / "i"), "--chroma-url", moved)
        assert found.returncode == 0 and "a1" in found.stdout, found.stderr


def test_a_server_that_dies_mid_index_is_one_line_and_the_rerun_completes(tmp_path: Path) -> None:
    """The server goes down while passages are being written; after it is back, indexing again finishes."""
    import json

    demo = Path(__file__).resolve().parents[1] / "src" / "clir_rag" / "data" / "demo_corpus.jsonl"
    docs = [json.loads(x) for x in demo.read_text(encoding="utf-8").splitlines() if x.strip()]
    corpus = tmp_path / "big.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"id": f"{d['id']}-{i}", "lang": d["lang"], "text": f"{d['text']} ({i})"}) + "\n"
            for i, d in enumerate(docs * 8)
        ),
        encoding="utf-8",
    )
    port = free_port()  # the server comes back on the same port and data: the index's URL must still reach it
    with serving_chroma(tmp_path / "data", port) as (url, server):
        writer = subprocess.Popen(
            [sys.executable, "-m", "clir_rag.cli", "index", str(corpus), "--index", str(tmp_path / "i"),
             "--chroma-url", url, "--batch-size", "4"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        import time

        import chromadb
        from chromadb.config import Settings

        client = chromadb.HttpClient(host="127.0.0.1", port=port, settings=Settings(anonymized_telemetry=False))
        deadline = time.monotonic() + 300
        while not any(c.count() >= 20 for c in client.list_collections()):  # some passages are stored
            assert time.monotonic() < deadline and writer.poll() is None
            time.sleep(0.2)
        server.kill()  # dies mid-index, without the chance to shut down cleanly that terminate() gives
        server.wait(30)
    _out, err = writer.communicate(timeout=300)
    errors = [x for x in err.splitlines() if x.startswith("error")]
    assert writer.returncode == 1 and "Traceback" not in err and len(errors) == 1, err
    assert url in errors[0]
    with serving_chroma(tmp_path / "data", port):
        done = _cli("index", str(corpus), "--index", str(tmp_path / "i"))
        assert done.returncode == 0, done.stderr
        assert "Indexed 328 documents into 328 passages" in done.stdout and "already indexed" in done.stdout
        idx = CrossLingualIndex(tmp_path / "i")
        assert len(idx) == len(idx.bm25) == 328

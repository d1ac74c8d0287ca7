"""A served index while another process indexes 200 documents in 10 batches, deletes 20 and calibrates, and a client
searches dense, bm25 and hybrid without pause: no 5xx, every committed batch found by the first search after its
commit (visibility is checked by order, not by the clock: the reader checks the manifest before each query), deleted
documents gone, and afterwards the same rankings as a fresh reader. Again over a Chroma server (3 batches), with the
collection rebuilt under the service: searches answer from the state in memory until the rebuild commits."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="needs the [serve] extra")
pytest.importorskip("uvicorn", reason="needs the [serve] extra")

from clir_rag import CrossLingualIndex
from clir_rag.testing.servers import free_port, serving, serving_chroma

MODES = ("dense", "bm25", "hybrid")
CITIES = ("Vilnius", "Lagos", "Quito", "Osaka", "Tartu", "Hanoi", "Lima", "Cork", "Perth", "Bergen")


def text_of(batch: int, i: int) -> str:
    return (
        f"Weather station zq{batch}k{i} near {CITIES[i % 10]} logged {batch * 20 + i + 3} millimetres of rain "
        f"during the storm of week {i + 1}."
    )


WRITER = """
import json, sys, time
from clir_rag import CrossLingualIndex
from clir_rag.types import Document
from tests.test_serve_follow import text_of
path, url, rebuild, batches = sys.argv[1], sys.argv[2] or None, sys.argv[3] == "1", int(sys.argv[4])
idx = CrossLingualIndex(path, chroma_url=url, wait=None)
def say(**event):
    print(json.dumps(event), flush=True)
    sys.stdin.readline()  # the test checks the service, then lets the writer go on
docs = []
for b in range(batches):
    batch = [Document(id=f"st-{b}-{i}", text=text_of(b, i), lang="en") for i in range(20)]
    idx.add(batch, progress=False)
    docs += batch
    say(event="commit", batch=b)
idx.delete([f"st-0-{i}" for i in range(20)])
say(event="deleted")
idx.calibrate([f"how much rain fell in {c}?" for c in ("Vilnius", "Lagos", "Quito")], lang="en")
if rebuild:
    idx.reset()
    idx.add(docs[20:], progress=False)
say(event="done")
"""


def post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url + "/search", data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, {"detail": e.read().decode()}


def top(url: str, query: str, mode: str, k: int = 3) -> list[str]:
    status, got = post(url, {"query": query, "k": k, "mode": mode})
    assert status == 200, got
    return [c["doc_id"] for c in got["candidates"]]


@contextmanager
def searching(url: str, queries: list[str]) -> Iterator[dict[str, list]]:
    """A client searching every mode without pause; yields what it saw (statuses, 5xx bodies)."""
    seen: dict[str, list] = {"ok": [], "errors": []}
    stop = threading.Event()

    def loop() -> None:
        n = 0
        while not stop.is_set():
            mode = MODES[n % 3]
            status, got = post(url, {"query": queries[n % len(queries)], "k": 5, "mode": mode})
            n += 1
            if status != 200:
                seen["errors"].append((status, got))
            else:
                seen["ok"].append((mode, got))

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(120)


def follow(index: Path, url: str, chroma_url: str = "", rebuild: bool = False, batches: int = 10) -> None:
    root = Path(__file__).resolve().parents[1]
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(index), chroma_url, "1" if rebuild else "0", str(batches)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
    )
    assert writer.stdin is not None and writer.stdout is not None
    queries = ["Wer hat das Artemisinin entdeckt?", "How tall is Mount Everest?", text_of(1, 4), text_of(2, 0)]
    try:
        with searching(url, queries) as seen:
            for line in writer.stdout:
                event = json.loads(line)
                if event["event"] == "commit":  # the first searches after the commit find every new document
                    b = event["batch"]
                    for i in (0, 19):
                        for mode in MODES:
                            assert top(url, text_of(b, i), mode)[0] == f"st-{b}-{i}", (b, i, mode)
                elif event["event"] == "deleted":
                    for mode in MODES:
                        assert not any(d.startswith("st-0-") for d in top(url, text_of(0, 5), mode, k=10)), mode
                writer.stdin.write("\n")
                writer.stdin.flush()
        assert writer.wait(120) == 0
        assert seen["errors"] == [], seen["errors"][:3]
        assert len(seen["ok"]) > 30  # the client really searched all along
        for mode, got in seen["ok"]:  # every answer whole: distinct passages, each with its text
            ids = [c["id"] for c in got["candidates"]]
            assert len(ids) == len(set(ids)) and all(c["text"] for c in got["candidates"]), got
            assert len(ids) == 5 or mode == "bm25", got  # BM25 finds only passages that share a word
    finally:
        if writer.poll() is None:
            writer.kill()
    fresh = CrossLingualIndex(index)  # a reader opened afterwards ranks the same
    for query in (*queries, text_of(batches - 1, 5)):
        for mode in MODES:
            expected = [c.doc_id for c in fresh.search(query, 5, mode=mode).candidates]  # type: ignore[arg-type]
            assert top(url, query, mode, k=5) == expected, (query, mode)


@contextmanager
def served(index: Path) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "clir_rag.cli", "serve", "--index", str(index), "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with serving(command, f"{url}/health", timeout=120):
        yield url


def test_a_served_index_follows_another_process(demo_index_copy: Path) -> None:
    with served(demo_index_copy) as url:
        follow(demo_index_copy, url)


def test_a_served_index_follows_a_chroma_server_and_a_rebuilt_collection(tmp_path: Path, demo_docs) -> None:
    with serving_chroma(tmp_path / "chroma-data") as (chroma_url, _):
        index = tmp_path / "index"
        CrossLingualIndex(index, chroma_url=chroma_url).add(demo_docs, progress=False)
        with served(index) as url:
            follow(index, url, chroma_url, rebuild=True, batches=3)  # fewer batches: the rebuild is the point

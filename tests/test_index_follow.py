"""Readers that follow writes: an index opened in one process sees what another process indexes, deletes and
calibrates, a search during a write answers from the state before it, lazy loads happen once under 16 concurrent
first searches, and the writer lock is per thread."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from clir_rag import CrossLingualIndex
from clir_rag.embed.base import LocalEmbedder
from clir_rag.errors import IndexLockedError, StoreUnavailableError
from clir_rag.lock import WriterLock
from clir_rag.store.bm25 import BM25Index
from clir_rag.store.chroma import ChromaStore
from clir_rag.types import Document

NEW = Document(id="zz-festival", text="The Zorblax quasar festival is held every spring in Vilnius.", lang="en")


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    """``code`` in another Python process (another writer), failing the test with its stderr if it fails."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


ADD_ONE = """
import sys
from clir_rag import CrossLingualIndex
from clir_rag.types import Document
CrossLingualIndex(sys.argv[1]).add([Document(id="zz-festival", lang="en",
    text="The Zorblax quasar festival is held every spring in Vilnius.")], progress=False)
"""


def top_ids(index: CrossLingualIndex, query: str, mode: str, k: int = 3) -> list[str]:
    return [c.doc_id for c in index.search(query, k, mode=mode).candidates]  # type: ignore[arg-type]


def test_a_reader_follows_another_process(demo_index_copy: Path, encoder) -> None:
    reader = CrossLingualIndex(demo_index_copy, encoder=encoder)
    retriever = reader.retriever("hybrid")  # built once, as a long-lived application does
    before = {mode: top_ids(reader, "Zorblax quasar festival", mode) for mode in ("dense", "bm25", "hybrid")}
    assert all("zz-festival" not in ids for ids in before.values())
    passages = len(reader)

    run_python(ADD_ONE, str(demo_index_copy))

    for mode in ("dense", "bm25", "hybrid"):
        assert top_ids(reader, "Zorblax quasar festival", mode)[0] == "zz-festival", mode
    assert retriever.retrieve("Zorblax quasar festival", 1).candidates[0].doc_id == "zz-festival"
    assert reader.language_stats.total == passages + 1 == len(reader)
    assert reader.health()["index"]["status"] == "ok"
    # one opened after the write, in the same process (Chroma caches its client per path): the same answers
    fresh = CrossLingualIndex(demo_index_copy, encoder=encoder)
    assert top_ids(fresh, "Zorblax quasar festival", "dense") == top_ids(reader, "Zorblax quasar festival", "dense")

    run_python(
        "import sys\nfrom clir_rag import CrossLingualIndex\nCrossLingualIndex(sys.argv[1]).delete(['zz-festival'])",
        str(demo_index_copy),
    )
    for mode in ("dense", "bm25", "hybrid"):
        assert "zz-festival" not in top_ids(reader, "Zorblax quasar festival", mode), mode
    assert len(reader) == passages


CALIBRATE = """
import sys
from clir_rag import CrossLingualIndex
idx = CrossLingualIndex(sys.argv[1], wait=None)
lang, n = sys.argv[2], int(sys.argv[3])
for i in range(n):
    idx.calibrate([f"question {i} {j}" for j in range(3)], lang=lang)
"""


def test_two_processes_calibrating_at_once_both_count(demo_index_copy: Path, encoder) -> None:
    reader = CrossLingualIndex(demo_index_copy, encoder=encoder)
    assert reader.language_stats.calibration == {}
    procs = [
        subprocess.Popen([sys.executable, "-c", CALIBRATE, str(demo_index_copy), lang, "4"], stderr=subprocess.PIPE)
        for lang in ("en", "de")
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-2000:]
    calibration = reader.language_stats.calibration  # the running reader sees both, without reopening
    assert {lang: q.count for lang, q in calibration.items()} == {"en": 12, "de": 12}


class _Paused:
    """An embedder that stops after its first batch until released: a write caught in the middle (fault injection)."""

    def __init__(self, encoder) -> None:
        self.inner = LocalEmbedder(encoder, 1)
        self.spec = encoder.spec
        self.midway = threading.Event()
        self.go_on = threading.Event()

    def embed(self, texts: list[str]) -> Iterator[tuple[int, np.ndarray]]:
        for n, item in enumerate(self.inner.embed(texts)):
            if n == 1:
                self.midway.set()
                assert self.go_on.wait(120)
            yield item


def test_a_search_during_a_write_answers_from_the_state_before(demo_index_copy: Path, encoder) -> None:
    index = CrossLingualIndex(demo_index_copy, encoder=encoder)
    reader = CrossLingualIndex(demo_index_copy, encoder=encoder)
    before = {mode: top_ids(reader, "Zorblax quasar festival", mode) for mode in ("dense", "bm25", "hybrid")}
    committed = len(reader)
    docs = [NEW, *(Document(id=f"zz-{i}", text=f"Zorblax quasar note number {i}.", lang="en") for i in range(3))]
    paused = _Paused(encoder)
    writer = threading.Thread(target=index.add, args=(docs,), kwargs={"embedder": paused, "progress": False})
    writer.start()
    try:
        assert paused.midway.wait(120)
        assert len(reader) > committed  # the first passages are in Chroma already, not yet committed
        for mode in ("dense", "bm25", "hybrid"):
            assert top_ids(reader, "Zorblax quasar festival", mode) == before[mode], mode
        assert reader.language_stats.total == reader.snapshot().manifest.passages
    finally:
        paused.go_on.set()
        writer.join(120)
    for mode in ("dense", "bm25", "hybrid"):
        assert top_ids(reader, "Zorblax quasar festival", mode)[0] == "zz-festival", mode


def test_concurrent_first_searches_load_once(demo_index_copy: Path, encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    loads = {"bm25": 0, "matrix": 0}
    real_bm25, real_matrix = BM25Index.load.__func__, ChromaStore._load_matrix  # type: ignore[attr-defined]

    def count_bm25(cls, *args, **kwargs):
        loads["bm25"] += 1
        return real_bm25(cls, *args, **kwargs)

    def count_matrix(self, *args, **kwargs):
        loads["matrix"] += 1
        return real_matrix(self, *args, **kwargs)

    monkeypatch.setattr(BM25Index, "load", classmethod(count_bm25))
    monkeypatch.setattr(ChromaStore, "_load_matrix", count_matrix)
    index = CrossLingualIndex(demo_index_copy, encoder=encoder)
    start = threading.Barrier(16)
    errors: list[BaseException] = []

    def search(i: int) -> None:
        try:
            start.wait()
            index.search("Mount Everest height", 3, mode=("dense", "bm25", "hybrid")[i % 3])  # type: ignore[arg-type]
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=search, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert loads == {"bm25": 1, "matrix": 1}


def test_writer_lock_is_per_thread(tmp_path: Path) -> None:
    lock = WriterLock(tmp_path, wait=0)
    lock.acquire()
    lock.acquire()  # re-entrant in its thread
    seen: list[object] = []

    def other() -> None:
        try:
            lock.acquire()
            seen.append("acquired")
            lock.release()
        except IndexLockedError as e:
            seen.append(e)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert isinstance(seen[0], IndexLockedError) and "another thread" in str(seen[0])
    lock.release()
    lock.release()  # the other thread's release never freed ours; now it is free
    waiting = WriterLock(tmp_path, wait=5)
    t = threading.Thread(target=lambda: (waiting.acquire(), seen.append("second"), waiting.release()))
    t.start()
    t.join()
    assert seen[-1] == "second"


def test_a_failed_pid_write_keeps_no_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    lock = WriterLock(tmp_path, wait=0)
    with lock:  # the PID is only for messages: a full disk does not stop the writer
        assert lock.held
    monkeypatch.undo()
    with WriterLock(tmp_path, wait=0) as again:  # and nothing leaked: the lock is free
        assert again.held


def test_an_unreachable_chroma_server_leaves_no_folder(tmp_path: Path, encoder) -> None:
    target = tmp_path / "new-index"
    with pytest.raises(StoreUnavailableError):
        CrossLingualIndex(target, encoder=encoder, chroma_url="http://127.0.0.1:9").add([NEW], progress=False)
    assert not target.exists()


def test_a_store_read_failing_under_a_starting_write_keeps_the_state_before(
    demo_index_copy: Path, encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Embedded Chroma read while another process writes can fail ("Error finding id"); the service answered 503
    (found by looping test_serve_follow). A reader loading the next state when a writer starts keeps the one before."""
    reader = CrossLingualIndex(demo_index_copy, encoder=encoder)
    before = top_ids(reader, "Zorblax quasar festival", "dense")
    run_python(ADD_ONE, str(demo_index_copy))  # another process commits: the next search loads the new state
    real_matrix = ChromaStore._load_matrix
    layout = reader.layout

    def writer_starts_midway(self, *args, **kwargs):
        manifest = layout.read_manifest()
        assert manifest is not None
        layout.write_manifest(manifest.model_copy(update={"bm25_stale": True, "stats_stale": True}))
        raise StoreUnavailableError("chroma: get failed: InternalError: Error executing plan: Error finding id")

    monkeypatch.setattr(ChromaStore, "_load_matrix", writer_starts_midway)
    assert top_ids(reader, "Zorblax quasar festival", "dense") == before  # the state before, no error
    monkeypatch.setattr(ChromaStore, "_load_matrix", real_matrix)
    manifest = layout.read_manifest()
    assert manifest is not None  # the writer commits
    layout.write_manifest(manifest.model_copy(update={"bm25_stale": False, "stats_stale": False}))
    assert top_ids(reader, "Zorblax quasar festival", "dense")[0] == "zz-festival"

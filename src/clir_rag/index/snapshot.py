"""Following an index directory: one committed state loaded whole (a :class:`Snapshot`), the next after each commit.

A reader answers from a :class:`Snapshot`, one committed state of the index directory
(:mod:`clir_rag.index.layout`): the manifest, the passage statistics, BM25 and, up to the
exact-search limit, every vector in memory. Each search first compares the manifest's stamp
with its snapshot's (one ``stat``); after a commit, here or in another process, it loads
the new state whole and switches to it. While a write is in progress (the manifest carries
stale marks), searches keep answering from the state before it. So a search sees the
state before a write or after it, never a mix of the two.

What still comes from the vector store at query time: passage texts for the final top k,
and above the exact-search limit the nearest-neighbour search itself (Chroma's HNSW),
which sees passages as they are written.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clir_rag.embed import Encoder
from clir_rag.errors import (
    ClirRagError,
    IndexCorruptError,
    IndexLockedError,
    IndexStatsError,
    StoreUnavailableError,
)
from clir_rag.index.layout import IndexLayout, index_text
from clir_rag.lock import LOCK_FILE, WriterLock
from clir_rag.manifest import IndexManifest
from clir_rag.store.base import VectorStore
from clir_rag.store.bm25 import BM25Index
from clir_rag.store.chroma import ChromaStore
from clir_rag.store.stats import LanguageStats

Health = dict[str, dict[str, str]]
log = logging.getLogger("clir_rag")
# How often a reader reloads when writers keep committing while it loads, before it serves what it has.
_LOAD_TRIES = 5


@dataclass(eq=False)
class Snapshot:
    """One state of the index directory, everything a search reads, loaded together.

    ``committed`` is False for a state loaded while a write was in progress or after one
    stopped (the manifest carries stale marks): a reader opened then has nothing better.
    """

    manifest: IndexManifest
    stamp: object
    store: ChromaStore
    stats: LanguageStats | None
    stats_error: str
    bm25: BM25Index | None
    committed: bool
    lock: threading.Lock = field(default_factory=threading.Lock)


class SnapshotReader:
    """The snapshot an index's searches answer from, kept up to date with the directory (see the module docstring).

    The base of :class:`~clir_rag.index.reader.IndexReader`; the writer half supplies what
    writes (creating a new directory, persisting a rebuilt BM25).
    """

    path: Path
    layout: IndexLayout
    manifest: IndexManifest
    encoder: Encoder
    title_format: str
    _chroma_url: str | None
    _exact_limit: int
    _lock: WriterLock

    def _init_reader(self) -> None:
        self._snap: Snapshot | None = None
        self._pending: object = None  # the stamp of a manifest seen mid-write: no reload until it changes
        self._switching = threading.Lock()

    # -- following the directory --------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The state searches answer from now: the latest committed one (loaded when the manifest changed)."""
        stamp = self.layout.stamp()
        snap = self._snap
        if snap is not None and stamp is not None and stamp in (snap.stamp, self._pending):
            return snap
        with self._switching:  # one thread loads; the others wait for it and share what it loaded
            stamp = self.layout.stamp()
            snap = self._snap
            if snap is not None and stamp is not None and stamp in (snap.stamp, self._pending):
                return snap
            return self._switch(snap)

    def _switch(self, old: Snapshot | None) -> Snapshot:
        loaded: Snapshot | None = None
        for _ in range(_LOAD_TRIES):
            stamp = self.layout.stamp()
            manifest = self.layout.read_manifest() if stamp is not None else None
            if manifest is None:  # a new index, not written yet: opening its store claims the directory
                self._claim_for_reading()
                continue
            committed = not manifest.bm25_stale and not manifest.stats_stale
            if old is not None and not committed:
                self._pending = stamp  # a write in progress (or one that stopped): keep the state before it
                return old
            try:
                loaded = self._load(manifest, stamp, committed)
            except (IndexCorruptError, StoreUnavailableError):
                # a writer started while the store was read (embedded Chroma read during another process's
                # write fails with "Error finding id"): look again, which keeps the state before that write
                if self.layout.stamp() != stamp:
                    continue
                raise
            if self.layout.stamp() == stamp:  # no writer started meanwhile: one state, not a mix
                self._snap, self._pending = loaded, None
                return loaded
        if old is not None:
            return old
        if loaded is None:
            raise IndexCorruptError(f"{self.path}: the index manifest keeps disappearing (deleted while opened?)")
        self._snap = loaded  # writers commit faster than it loads: serve the last state loaded
        return loaded

    def _claim_for_reading(self) -> None:
        raise NotImplementedError  # the writer half claims a new directory

    def _load(self, manifest: IndexManifest, stamp: object, committed: bool) -> Snapshot:
        store = self._open_store(manifest, stamp, reader=True)
        fix = f"rebuild them: clir-rag stats --rebuild --index {self.path}"
        stats: LanguageStats | None = None
        error = ""
        if manifest.stats_stale:
            error = (
                f"{self.path}: the language statistics are stale (an indexing run is updating them, or one stopped "
                f"before it finished); let it finish, or run it again, or {fix}"
            )
        else:
            try:
                stats = LanguageStats.load(self.path)
                stats.calibration, stats.served = {}, {}  # the query means are followed on their own
            except IndexStatsError as e:
                error = str(e)
            if stats is not None and (stats.encoder != manifest.encoder or stats.dim != manifest.dim):
                stats, error = None, f"{self.path}: the language statistics belong to another encoder; {fix}"
            # a committed state is checked against its manifest; one loaded mid-run against the store itself
            held = manifest.passages if committed else store.count()
            if stats is not None and held is not None and stats.total != held:
                where = "the index" if committed else "the vector store"
                error = (
                    f"{self.path}: the language statistics cover {stats.total} passages but {where} holds "
                    f"{held} (changed by another process or index?); {fix}"
                )
                stats = None
        bm25: BM25Index | None = None
        if not manifest.bm25_stale:
            try:
                bm25 = BM25Index.load(self.layout.bm25_dir)
            except (OSError, ValueError, KeyError, EOFError) as e:  # deleted or truncated: derived data, rebuilt
                log.warning("%s: BM25 is unreadable (%s: %s); rebuilding it", self.path, type(e).__name__, e)
            if bm25 is not None and manifest.passages is not None and len(bm25) != manifest.passages:
                log.warning(
                    "%s: BM25 holds %d passages, the index %d; rebuilding BM25", self.path, len(bm25), manifest.passages
                )
                bm25 = None
        store.matrix()  # the exact-search copy belongs to this state: loaded inside the check
        return Snapshot(manifest, stamp, store, stats, error, bm25, committed)

    def _open_store(self, manifest: IndexManifest, stamp: object, *, reader: bool) -> ChromaStore:
        """The vector store as ``manifest`` describes it; an existing index's store is checked against it.

        A reader's store is fixed to its snapshot (its exact-search copy never reloads on its
        own); opening one after another process wrote reopens this process's Chroma client.
        """
        url = self._chroma_url
        expected = manifest.passages or 0
        new = not self.layout.exists()
        rebuild = f"rebuild it from the corpus: clir-rag index CORPUS --index {self.path} --rebuild"
        try:
            store = ChromaStore(
                None if url else self.layout.chroma_dir,
                url=url,
                collection=manifest.collection,
                encoder_spec=manifest.encoder,
                dim=manifest.dim,
                exact_limit=self._exact_limit,
                freshness=(lambda: stamp) if reader else self._writer_freshness(),
                owner=manifest.index_id,
                create=new or expected == 0,  # an index that recorded passages must find its store
                seen=stamp,
            )
            store.reopen(stamp)  # no-op unless this process's client predates another process's write
            # a reader's state is searched from memory up to the exact-search limit, texts included, so it
            # outlives the collection being rebuilt or the server going away while the next state loads
            store.keep_texts = reader
        except IndexCorruptError as e:
            raise IndexCorruptError(
                f"{self.path}: {e}, but the manifest records {expected} passages; {rebuild}"
            ) from None
        if not manifest.bm25_stale and manifest.passages is not None:
            count = store.count()
            if count != manifest.passages:
                what = "is empty" if count == 0 else f"holds {count}"
                raise IndexCorruptError(
                    f"{self.path}: the vector store {what} but the manifest records {manifest.passages} "
                    f"passages (emptied, replaced, or written by another index); {rebuild}"
                )
        return store

    def _writer_freshness(self) -> Callable[[], object]:
        return self.layout.stamp

    @property
    def store(self) -> ChromaStore:
        """The vector store of the state searches answer from (see :meth:`snapshot`)."""
        return self.snapshot().store

    def __len__(self) -> int:
        return self.snapshot().store.count()

    # -- derived data of the snapshot -------------------------------------------------

    @property
    def bm25(self) -> BM25Index:
        """The BM25 sub-indexes of the current state (rebuilt from the store when missing or damaged)."""
        return self._bm25_of(self.snapshot())

    def _bm25_of(self, snap: Snapshot) -> BM25Index:
        if snap.bm25 is not None:
            return snap.bm25
        with snap.lock:  # built once, however many searches ask at the same time
            if snap.bm25 is None:
                snap.bm25 = self._repair_bm25(snap)
            return snap.bm25

    def _repair_bm25(self, snap: Snapshot) -> BM25Index:
        """BM25 rebuilt from ``snap``'s store; written back when no writer is busy, else kept in memory."""
        if not snap.store.read_only:
            try:
                return self._persist_bm25(wait=0.0)
            except IndexLockedError:
                pass  # a writer is busy and rebuilds BM25 itself when it finishes
        return self._build_bm25(snap.store, snap.manifest)

    def _persist_bm25(self, wait: float | object | None) -> BM25Index:
        raise NotImplementedError  # the writer half

    def _build_bm25(self, store: VectorStore, manifest: IndexManifest) -> BM25Index:
        return BM25Index.build(
            (
                (pid, index_text(text, meta.get("title"), manifest.title_format), meta["lang"])
                for pid, text, meta in store.iter_passages()
            ),
            k1=manifest.bm25.k1,
            b=manifest.bm25.b,
        )

    # -- health -------------------------------------------------------------------------

    def health(self) -> Health:
        """``{"index": ..., "store": ...}``, each ``{"status": "ok" | "degraded" | "down", "reason": ...}``.

        The index is degraded when a write stopped before committing (searches answer from the
        state before it) or its statistics are unusable (no dense corrections); down when it
        cannot be opened. The store is down when a search cannot reach it.
        """
        try:
            snap = self.snapshot()
        except ClirRagError as e:
            reason = str(e)
            return {"index": _status("down", reason), "store": _status("down", reason)}
        index = _status("ok")
        if self._pending is not None or not snap.committed:
            if self._writer_busy():
                index = _status("ok", "an indexing run is in progress; searches answer from the state before it")
            else:
                index = _status(
                    "degraded",
                    f"an indexing run stopped before it finished; searches answer from the last complete state; "
                    f"run it again (clir-rag index CORPUS --index {self.path})",
                )
        elif snap.stats is None:
            index = _status("degraded", snap.stats_error)
        try:
            snap.store.count()
            store = _status("ok")
        except ClirRagError as e:
            store = _status("down", str(e))
        return {"index": index, "store": store}

    def _writer_busy(self) -> bool:
        """Whether a writer holds the lock now (a shared flock attempt: it never blocks, never writes)."""
        try:
            fd = os.open(self.path / LOCK_FILE, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            os.close(fd)


def _status(status: str, reason: str = "") -> dict[str, str]:
    return {"status": status, "reason": reason}

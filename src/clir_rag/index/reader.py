"""The reading half of an index: searches that follow every write, whoever makes it.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clir_rag.embed import Encoder
from clir_rag.errors import (
    ClirRagError,
    IndexCorruptError,
    IndexLockedError,
    IndexStatsError,
    InputError,
)
from clir_rag.index.layout import IndexLayout, index_text
from clir_rag.lock import DEFAULT_WAIT, LOCK_FILE, WriterLock
from clir_rag.manifest import IndexManifest
from clir_rag.retrieve import BM25Retriever, DenseRetriever, DocumentRetriever, HybridRetriever, Retriever
from clir_rag.retrieve.base import BaseRetriever
from clir_rag.retrieve.debias import DEFAULT_SHRINK, DebiasedDenseRetriever, check_debias, resolve_auto
from clir_rag.store.bm25 import BM25Index
from clir_rag.store.chroma import ChromaStore
from clir_rag.store.stats import LanguageStats, QueryMean
from clir_rag.types import Aggregation, Debias, FusionMethod, Query, Ranking
from clir_rag.types import RetrievalMode as Mode

DebiasOption = Debias
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


class IndexReader:
    """Searching an index directory; see the module docstring. :class:`~clir_rag.index.CrossLingualIndex` is one."""

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
        self._queries_lock = threading.Lock()
        self._queries_key: object = None
        self._stats_view: LanguageStats | None = None
        self._served_delta: dict[str, QueryMean] = {}  # served queries not yet written
        self._cal_local: dict[str, QueryMean] = {}  # calibration kept in this object only (persist=False)
        self._cal_replaced = False
        self._local_version = 0

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
            except IndexCorruptError:
                if self.layout.stamp() != stamp:
                    continue  # a writer started while the store was checked: load its state once it commits
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

    def _build_bm25(self, store: ChromaStore, manifest: IndexManifest) -> BM25Index:
        return BM25Index.build(
            (
                (pid, index_text(text, meta.get("title"), manifest.title_format), meta["lang"])
                for pid, text, meta in store.iter_passages()
            ),
            k1=manifest.bm25.k1,
            b=manifest.bm25.b,
        )

    @property
    def language_stats(self) -> LanguageStats:
        """The index's language statistics (passages, with the current query means), checked against the manifest.

        Raises :class:`~clir_rag.errors.IndexStatsError` when they are missing, stale (an
        indexing run is in progress or was interrupted) or do not cover the passages indexed.
        """
        return self._stats_of(self.snapshot())

    def _stats_of(self, snap: Snapshot) -> LanguageStats:
        if snap.stats is None:
            raise IndexStatsError(snap.stats_error)
        key = (id(snap), self.layout.query_stamp(), self._local_version)
        view = self._stats_view
        if view is not None and self._queries_key == key:
            return view
        with self._queries_lock:
            means = LanguageStats(dim=snap.stats.dim, encoder=snap.stats.encoder)
            try:
                means.load_queries(self.path)
            except IndexStatsError as e:  # a damaged query-means file: searching goes on without them
                log.warning("%s", e)
            if self._cal_replaced:
                means.calibration = {}
            _fold(means.calibration, self._cal_local)
            _fold(means.served, self._served_delta)
            self._stats_view = snap.stats.with_queries(means.calibration, means.served)
            self._queries_key = key
            return self._stats_view

    def record_served_query(self, vector: np.ndarray, lang: str) -> None:
        """Fold one served query into the running served-query mean (written every few queries)."""
        delta = LanguageStats(dim=len(vector), encoder="")
        delta.add_queries(np.asarray(vector, dtype=np.float64)[None, :], [lang], served=True)
        with self._queries_lock:
            _fold(self._served_delta, delta.served)
            self._local_version += 1
            unsaved = sum(q.count for q in self._served_delta.values())
        if unsaved >= _SERVED_FLUSH:
            self.flush(wait=0.0)

    def flush(self, wait: float | object | None = DEFAULT_WAIT) -> None:
        """Write the served-query means recorded since the last write (the writer half does it)."""
        raise NotImplementedError

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

    # -- searching ------------------------------------------------------------------

    def resolve_debias(self, debias: DebiasOption, query_lang: str | None = None) -> str:
        """What ``debias`` does here: ``auto`` is ``center-zscore`` over a collection of translations and
        ``center`` over other collections with several document languages, and with one
        it is ``center`` only for a query whose language mean is known (see
        :func:`clir_rag.retrieve.debias.resolve_auto`). Without ``query_lang``, ``auto`` stays ``auto``
        on a one-language index, decided per query.
        """
        return self._resolve_debias(self.snapshot(), debias, query_lang)

    def _resolve_debias(self, snap: Snapshot, debias: DebiasOption, query_lang: str | None = None) -> str:
        if debias != "auto":
            return check_debias(debias)
        stats = self._stats_of(snap)
        if len(stats.passages) > 1 or query_lang is not None:
            return resolve_auto(stats, query_lang, snap.store.matrix())
        return "auto" if stats.calibration or stats.served else "none"

    def retriever(
        self,
        mode: Mode = "dense",
        *,
        fusion: FusionMethod = "balanced",
        weights: Sequence[float] | None = None,
        documents: Aggregation | None = None,
        debias: DebiasOption = "auto",
        shrink: float = DEFAULT_SHRINK,
        record_queries: bool = False,
    ) -> FollowingRetriever:
        """A retriever over this index that follows its writes; ``documents`` aggregates passages to documents, exactly.

        Each query runs on the index's current state (:meth:`snapshot`): a retriever built
        once in a long-lived application sees documents indexed later, by this process or another.

        ``documents="maxp"`` ranks documents by their best passage, ``"firstp"`` by their first
        (:class:`~clir_rag.retrieve.DocumentRetriever`): every passage counts, so a document whose
        best passage would rank 500th among passages is still found, and k documents come back
        whenever the index holds k. For long documents 128-token passages ranked best
        (evals/README.md, "Long documents").

        ``dense`` is the default because, across languages and without translation,
        BM25 mostly adds noise: on XQuAD en->de, RRF of dense and BM25 scores nDCG@20
        0.67 against dense's 0.92 (evals/README.md). ``hybrid`` fuses them with
        ``fusion="balanced"`` by default (:func:`~clir_rag.retrieve.fusion.balanced_fusion`):
        the dense ranking's languages stay where they are and BM25 reorders documents in the
        query's language only, so a multilingual index keeps its balance and a cross-lingual
        query loses nothing to BM25 noise. ``fusion="rrf"`` is plain reciprocal rank fusion.

        ``debias`` corrects the dense side for language bias (see
        :mod:`clir_rag.retrieve.debias`): ``center``, ``zscore``, ``none``, or ``auto``
        (:meth:`resolve_debias`). Anything but ``none`` needs the index's language statistics
        and raises :class:`~clir_rag.errors.IndexStatsError` when they are missing or stale.
        ``record_queries`` folds served queries into a running query mean, used for
        query languages without passages or calibration.
        """
        if mode not in ("dense", "bm25", "hybrid"):
            raise InputError(f"unknown mode {mode!r}: use 'dense', 'bm25' or 'hybrid'")

        def build(snap: Snapshot) -> Retriever:
            method = self._resolve_debias(snap, debias) if mode != "bm25" else "none"
            if record_queries and debias == "auto" and mode != "bm25":
                method = "auto"  # decided per query, so that served queries can start to count
            if method == "none" and not record_queries:
                dense: Retriever = DenseRetriever(snap.store, self.encoder)
            else:
                dense = DebiasedDenseRetriever(
                    snap.store,
                    self.encoder,
                    lambda: self._stats_of(snap),
                    method,  # type: ignore[arg-type]
                    shrink=shrink,
                    record_queries=self.record_served_query if record_queries else None,
                )
            if mode == "dense":
                r: Retriever = dense
            elif mode == "bm25":
                r = BM25Retriever(self._bm25_of(snap), snap.store)
            else:
                r = HybridRetriever(
                    [dense, BM25Retriever(self._bm25_of(snap), snap.store)], method=fusion, weights=weights
                )
            return DocumentRetriever(r, documents) if documents else r

        return FollowingRetriever(self.snapshot, build)

    def search(
        self,
        query: Query | str,
        k: int = 10,
        *,
        mode: Mode = "dense",
        langs: Sequence[str] | None = None,
        debias: DebiasOption = "auto",
    ) -> Ranking:
        """The top ``k`` passages for ``query`` (see :meth:`retriever` for ``mode`` and ``debias``)."""
        return self.retriever(mode, debias=debias).retrieve(query, k, langs=langs)


class FollowingRetriever(BaseRetriever):
    """A retriever rebuilt over each new state of an index: every query runs on one state, the latest.

    ``build`` makes the concrete retriever for a :class:`Snapshot`; it is called again only
    when the index's state changed since the last query.
    """

    def __init__(self, current: Callable[[], Snapshot], build: Callable[[Snapshot], Retriever]) -> None:
        self._current = current
        self._build = build
        self._lock = threading.Lock()
        snap = current()
        self._state: tuple[Snapshot, Retriever] = (snap, build(snap))
        self.name = self._state[1].name

    @property
    def inner(self) -> Retriever:
        """The retriever over the index's current state."""
        snap = self._current()
        state = self._state
        if state[0] is snap:
            return state[1]
        with self._lock:
            if self._state[0] is not snap:
                self._state = (snap, self._build(snap))
            return self._state[1]

    def retrieve(
        self, query: Query | str, k: int = 10, *, langs: Sequence[str] | None = None, **kwargs: Any
    ) -> Ranking:
        """The inner retriever's :meth:`~clir_rag.retrieve.Retriever.retrieve` (its own keywords pass through)."""
        return self.inner.retrieve(query, k, langs=langs, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.inner, name)  # rrf_k, method, ...: the current retriever's settings

    def _rank_documents(self, query: Query, k: int, method: str, langs: list[str] | None) -> Ranking | None:
        inner = self.inner
        if isinstance(inner, HybridRetriever):  # fused from each member's exact document ranking
            return DocumentRetriever(inner, method).retrieve(query, k, langs=langs)  # type: ignore[arg-type]
        exact = getattr(inner, "rank_documents", None)
        return exact(query, k, method, langs=langs) if exact is not None else None


def _fold(target: dict[str, QueryMean], extra: dict[str, QueryMean]) -> None:
    for lang, qm in extra.items():
        have = target.get(lang)
        target[lang] = (
            QueryMean(qm.count, qm.sum.copy()) if have is None else QueryMean(have.count + qm.count, have.sum + qm.sum)
        )


def _status(status: str, reason: str = "") -> dict[str, str]:
    return {"status": status, "reason": reason}


# Served queries are folded into the running query means in memory and written every this many.
_SERVED_FLUSH = 20

__all__ = ["DebiasOption", "FollowingRetriever", "Health", "IndexReader", "Mode", "Snapshot"]

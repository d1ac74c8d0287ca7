"""The language statistics a search uses: its snapshot's passage statistics with the query means as they stand now.

The query means (calibration queries, served queries) live in ``query-stats.npz`` with a stamp
of their own (:mod:`clir_rag.index.layout`), so calibrating does not make readers reload
passages. A search sees the snapshot's passage statistics together with the stored query means,
the calibration kept in this object only (``calibrate(persist=False)``) and the served queries
recorded here and not yet saved. Recording served queries happens here; saving them takes the
writer lock (:mod:`clir_rag.index.query_means`).
"""

from __future__ import annotations

import logging
import threading
import warnings

import numpy as np

from clir_rag.errors import IndexStatsError
from clir_rag.index.snapshot import Snapshot, SnapshotReader
from clir_rag.lock import DEFAULT_WAIT
from clir_rag.store.stats import LanguageStats, QueryMean

log = logging.getLogger("clir_rag")
# Served queries are folded into the running query means in memory and saved every this many.
_SERVED_SAVE_EVERY = 20


class StatsView(SnapshotReader):
    """An index's language statistics as searches see them, and the served queries recorded by its searches."""

    def _init_reader(self) -> None:
        super()._init_reader()
        self._queries_lock = threading.Lock()
        self._queries_key: object = None
        self._stats_view: LanguageStats | None = None
        self._served_delta: dict[str, QueryMean] = {}  # served queries not yet written
        self._cal_local: dict[str, QueryMean] = {}  # calibration kept in this object only (persist=False)
        self._cal_replaced = False
        self._local_version = 0

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
            fold_query_means(means.calibration, self._cal_local)
            fold_query_means(means.served, self._served_delta)
            self._stats_view = snap.stats.with_queries(means.calibration, means.served)
            self._queries_key = key
            return self._stats_view

    def record_served_query(self, vector: np.ndarray, lang: str) -> None:
        """Fold one served query into the running served-query mean (written every few queries)."""
        delta = LanguageStats(dim=len(vector), encoder="")
        delta.add_queries(np.asarray(vector, dtype=np.float64)[None, :], [lang], served=True)
        with self._queries_lock:
            fold_query_means(self._served_delta, delta.served)
            self._local_version += 1
            unsaved = sum(q.count for q in self._served_delta.values())
        if unsaved >= _SERVED_SAVE_EVERY:
            self.save_served_query_means(wait=0.0)

    def save_served_query_means(self, wait: float | object | None = DEFAULT_WAIT) -> None:
        """Write the served-query means recorded since the last write (the writer half does it)."""
        raise NotImplementedError

    def flush(self, wait: float | object | None = DEFAULT_WAIT) -> None:
        """Deprecated: the old name of :meth:`save_served_query_means` (kept for one release)."""
        warnings.warn("flush() is deprecated: use save_served_query_means()", DeprecationWarning, stacklevel=2)
        self.save_served_query_means(wait)


def fold_query_means(target: dict[str, QueryMean], extra: dict[str, QueryMean]) -> None:
    """Add ``extra``'s query means into ``target``, language by language (``extra`` is left as it is)."""
    for lang, qm in extra.items():
        have = target.get(lang)
        target[lang] = (
            QueryMean(qm.count, qm.sum.copy()) if have is None else QueryMean(have.count + qm.count, have.sum + qm.sum)
        )

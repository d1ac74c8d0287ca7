"""Writing an index's query means: calibration queries, and the served queries its searches recorded.

The means live in ``query-stats.npz`` beside the passage statistics, with a stamp of their own
(:mod:`clir_rag.index.layout`). Each write reads the stored means, adds to them and writes them
back under the writer lock, so two processes writing at once both count; searches here and
in other processes use them from their next query (:mod:`clir_rag.index.stats_view`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
from pydantic import ValidationError

from clir_rag.errors import (
    IndexLockedError,
    IndexReadOnlyError,
    IndexStatsError,
    IndexWriteError,
    InputError,
    describe_validation,
)
from clir_rag.index.stats_view import fold_query_means
from clir_rag.index.writer_base import WriterBase
from clir_rag.languages import detect_language, normalize_language
from clir_rag.lock import DEFAULT_WAIT
from clir_rag.store.stats import LanguageStats
from clir_rag.types import Query

log = logging.getLogger("clir_rag")


class QueryMeansWriter(WriterBase):
    """Calibrating an index and saving the served-query means, read-modify-write under the writer lock."""

    def _init_writer(self) -> None:
        super()._init_writer()
        self._served_unwritable = False

    def calibrate(
        self,
        queries: Iterable[Query | str],
        *,
        lang: str | None = None,
        replace: bool = False,
        persist: bool = True,
    ) -> dict[str, int]:
        """Store the mean embedding of these queries per language, for centring queries (``debias='center'``).

        Used for a query language that has no passages in the index (see
        :func:`clir_rag.retrieve.debias.query_mean`). Give queries like the ones the index will
        serve: a dev split, or a sample of real user queries, never the queries you evaluate.
        A query's language is its ``lang``, else ``lang``, else detected. Calibrating again adds
        to the stored means; ``replace`` drops the stored calibration first. The stored means
        are read, updated and written under the writer lock, so two processes calibrating at
        once both count, and searches here and in other processes use them from their next
        query. ``persist=False`` keeps the calibration in this object only (the evaluation
        harness does that, since the index may be shared). Returns the number of queries added
        per language.
        """
        try:
            items = [q if isinstance(q, Query) else Query(text=q) for q in queries]
        except ValidationError as e:
            raise InputError(f"calibration queries: {describe_validation(e)}") from None
        if not items:
            raise InputError("calibrate: no queries given")
        langs: list[str] = []
        for i, q in enumerate(items):
            found = q.lang or (normalize_language(lang) if lang else None) or detect_language(q.text)
            if found is None:
                raise InputError(f"calibration query {i + 1} (id={q.id!r}): no 'lang' and it cannot be detected")
            langs.append(found)
        vectors = np.asarray(self.encoder.encode_queries([q.text for q in items]), dtype=np.float64)
        added = LanguageStats(dim=self.manifest.dim, encoder=self.manifest.encoder)
        added.add_queries(vectors, langs)
        if persist:
            with self._writing():
                means = self._stored_query_means()
                if replace:
                    means.calibration.clear()
                fold_query_means(means.calibration, added.calibration)
                means.save_queries(self.path)
        else:
            with self._queries_lock:
                if replace:
                    self._cal_replaced, self._cal_local = True, {}
                fold_query_means(self._cal_local, added.calibration)
                self._local_version += 1
        return {x: langs.count(x) for x in sorted(set(langs))}

    def _stored_query_means(self) -> LanguageStats:
        means = LanguageStats(dim=self.manifest.dim, encoder=self.manifest.encoder)
        means.load_queries(self.path)
        return means

    def save_served_query_means(self, wait: float | object | None = DEFAULT_WAIT) -> None:
        """Write the served-query means recorded since the last write (read-modify-write under the writer lock).

        Searches with ``record_queries`` record them, and save them every few queries themselves.
        ``wait`` bounds the wait for a busy writer (by default the index's own ``wait``); when
        the lock is not free in time, or the index is read-only, the queries stay recorded here
        (and keep counting in searches) for a later save.
        """
        with self._queries_lock:
            delta, self._served_delta = self._served_delta, {}
        if not delta:
            return
        try:
            if self._served_unwritable:
                raise IndexReadOnlyError(f"{self.path} is read-only")
            with self._writing(wait):
                means = self._stored_query_means()
                fold_query_means(means.served, delta)
                means.save_queries(self.path)
        except (IndexLockedError, IndexReadOnlyError, IndexWriteError, IndexStatsError) as e:
            self._served_unwritable = self._served_unwritable or isinstance(e, IndexReadOnlyError)
            with self._queries_lock:  # kept for the next save
                fold_query_means(self._served_delta, delta)
            if wait is DEFAULT_WAIT and not isinstance(e, IndexReadOnlyError):
                raise
            log.debug("served queries not written yet: %s", e)
            return
        with self._queries_lock:
            self._local_version += 1

"""What an index derives from its vector store, kept in step: the passage statistics and BM25, and reset for a rebuild.

Both are derived data. A write marks them stale before it touches the vector store and saves
them (statistics, then BM25, then the manifest) at its end (:mod:`clir_rag.index.layout`); an
interrupted write leaves them to be rebuilt from the store, never silently wrong.
:meth:`DerivedDataWriter.reset` drops the store and everything derived from it, for rebuilding
an index from its corpus.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable

import numpy as np

from clir_rag.index.writer_base import WriterBase
from clir_rag.lock import DEFAULT_WAIT
from clir_rag.progress import ProgressCallback, progress_reporter
from clir_rag.store.bm25 import BM25Index
from clir_rag.store.chroma import ChromaStore, forget_embedded
from clir_rag.store.stats import LanguageStats


class DerivedDataWriter(WriterBase):
    """Saving and rebuilding an index's passage statistics and BM25 under the writer lock."""

    def reset(self) -> None:
        """Drop every stored passage, BM25 and the passage statistics, keeping the settings and calibration.

        For rebuilding an index whose vector store was lost or damaged: call :meth:`add` with
        the whole corpus afterwards (``clir-rag index CORPUS --index DIR --rebuild`` does both).
        """
        with self._writing():
            self.manifest.passages = None
            self.manifest.bm25_stale = True
            self.manifest.stats_stale = False
            self._write_manifest()
            if self._chroma_url:
                ChromaStore(
                    url=self._chroma_url,
                    collection=self.manifest.collection,
                    encoder_spec=self.manifest.encoder,
                    dim=self.manifest.dim,
                    owner=self.manifest.index_id,
                ).drop()
            else:
                forget_embedded(self.layout.chroma_dir)  # this process's client must not outlive its files
                shutil.rmtree(self.layout.chroma_dir, ignore_errors=True)
            shutil.rmtree(self.layout.bm25_dir, ignore_errors=True)
            self.layout.stats_file.unlink(missing_ok=True)
            self._wstore, self._stats = None, None

    def _stats_for_update(self) -> LanguageStats:
        """The statistics an indexing run updates: loaded, or rebuilt where an earlier run left them stale."""
        ws = self._writer_store()
        if self._stats is not None and not self.manifest.stats_stale:
            return self._stats
        file = self.layout.stats_file
        if self.manifest.stats_stale or (not file.exists() and ws.count() > 0):
            return self.rebuild_stats(progress=False)
        if not file.exists():
            self._stats = LanguageStats(dim=self.manifest.dim, encoder=self.manifest.encoder)
        else:
            self._stats = LanguageStats.load(self.path)
        return self._stats

    def _save_stats(self, lang_stats: LanguageStats, touched: Iterable[str] = ()) -> None:
        ws = self._writer_store()
        # statistics from before the direction moments (version 1) gain them on the first write
        old = {lang for lang, m in lang_stats.passages.items() if not m.has_directions}
        for lang in sorted(set(touched) | old):
            if lang in lang_stats.passages and (lang in old or lang_stats.needs_tightening(lang)):
                lang_stats.tighten(lang, np.concatenate([v for v, _ in ws.iter_vectors(lang=lang)]))
        lang_stats.save_passages(self.path)  # the query means have writers of their own
        self._stats = lang_stats
        self.manifest.stats_stale = False
        self._write_manifest()

    def rebuild_stats(self, *, progress: bool | ProgressCallback = False) -> LanguageStats:
        """Recompute the passage statistics from every stored vector and save them.

        Calibration and served-query means are kept: they do not come from the stored vectors.
        """
        with self._writing():
            return self._rebuild_stats(progress)

    def _rebuild_stats(self, progress: bool | ProgressCallback) -> LanguageStats:
        ws = self._writer_store()
        report = progress_reporter(progress, ws.count(), "Rebuilding language statistics")
        done = 0

        def batches():
            nonlocal done
            for vectors, langs in ws.iter_vectors():
                done += len(langs)
                report(done)
                yield vectors, langs

        try:
            fresh = LanguageStats.from_vectors(batches(), dim=self.manifest.dim, encoder=self.manifest.encoder)
        finally:
            report(None)
        fresh.save_passages(self.path)  # calibration and served-query means are kept as they are
        self._stats = fresh
        self.manifest.stats_stale = False
        self._write_manifest()
        return fresh

    def rebuild_bm25(self) -> BM25Index:
        """Rebuild BM25 from every passage in the store and persist it (in memory only for a read-only index)."""
        snap = self.snapshot() if self.layout.exists() else None
        if snap is not None and snap.store.read_only:
            return self._build_bm25(snap.store, snap.manifest)
        return self._persist_bm25(wait=DEFAULT_WAIT)

    def _persist_bm25(self, wait: float | object | None) -> BM25Index:
        with self._writing(wait):
            bm25 = self._build_bm25(self._writer_store(), self.manifest)
            bm25.save(self.layout.bm25_dir)
            self.manifest.bm25_stale = False
            self.manifest.passages = len(bm25)
            self._write_manifest()
            return bm25

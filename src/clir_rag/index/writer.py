"""The writing half of an index: indexing, deleting, statistics, calibration, all under the writer lock.

Indexing is idempotent and resumable by document id: passage ids are ``<doc id>#<n>``, each
passage carries its document's content hash, and a run embeds only passages that are missing
or whose document changed. Vectors are upserted batch by batch, so an interrupted run keeps
what it stored and the next run picks up from there. BM25 is derived from what Chroma holds
and is rebuilt (atomically) whenever Chroma changed. The language statistics are updated with
every vector stored or removed; a run marks them stale before it first touches Chroma and
commits statistics, BM25 and manifest at its end, in that order (see
:mod:`clir_rag.index.layout`), so an interrupted run leaves them to be rebuilt, never silently
wrong, and readers switch to the new state at the manifest.
"""

from __future__ import annotations

import bisect
import logging
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from pydantic import ValidationError

from clir_rag.chunk import Chunker
from clir_rag.embed.base import Chunking, DocumentEmbedder, LocalEmbedder, PassageEmbedder
from clir_rag.errors import (
    IndexCompatibilityError,
    IndexLockedError,
    IndexReadOnlyError,
    IndexStatsError,
    IndexWriteError,
    InputError,
    describe_validation,
)
from clir_rag.index.layout import READ_ONLY_ERRNOS, index_text, with_language
from clir_rag.index.reader import IndexReader, _fold
from clir_rag.languages import detect_language, normalize_language
from clir_rag.lock import DEFAULT_WAIT, LOCK_FILE
from clir_rag.progress import ProgressCallback, progress_reporter
from clir_rag.store.bm25 import BM25Index
from clir_rag.store.chroma import ChromaStore, forget_embedded
from clir_rag.store.stats import LanguageStats
from clir_rag.types import Document, Passage, Query

log = logging.getLogger("clir_rag")
# Passages chunked, embedded and written per shard of an indexing run: what the run holds in memory at
# once, and (on Ray) one encoder-actor pool's job.
DEFAULT_SHARD_PASSAGES = 50_000


@dataclass
class IndexStats:
    """What one :meth:`CrossLingualIndex.add` run did."""

    documents: int = 0
    passages: int = 0
    embedded: int = 0
    skipped: int = 0
    removed: int = 0
    cut_units: int = 0  # units (a long URL, text without spaces) longer than a passage, cut at the token limit
    seconds: float = 0.0

    @property
    def passages_per_second(self) -> float:
        """Passages embedded per second of the run (0 when nothing was embedded)."""
        return self.embedded / self.seconds if self.seconds > 0 else 0.0


class IndexWriter(IndexReader):
    """Writing an index directory, one writer at a time (:mod:`clir_rag.lock`); it reads as :class:`IndexReader`."""

    chunker: Chunker

    def _init_writer(self) -> None:
        self._wstore: ChromaStore | None = None
        self._stats: LanguageStats | None = None  # the statistics runs update (passages only)
        self._manifest_read: object = self.layout.stamp()
        self._served_unwritable = False

    # -- the writer lock and the writer's view ------------------------------------------

    @contextmanager
    def _writing(self, wait: float | object | None = DEFAULT_WAIT) -> Iterator[None]:
        """Hold the writer lock; on first taking it, pick up what another writer changed meanwhile."""
        first = not self._lock.held
        created = not self.path.exists()
        try:
            self._lock.acquire(wait)
        except OSError as e:
            if e.errno in READ_ONLY_ERRNOS:
                raise IndexReadOnlyError(f"{self.path} is read-only: it can be searched, not written") from None
            raise
        try:
            if first and self.layout.stamp() not in (None, self._manifest_read):
                fresh = self.layout.read_manifest()
                if fresh is not None:  # another process wrote: its manifest, statistics and store state count
                    self.manifest = fresh
                    self._manifest_read = self.layout.stamp()
                    self._wstore, self._stats = None, None
            yield
        except OSError as e:  # a full disk, a file-size limit: the run stops, what it stored stays valid
            raise IndexWriteError(
                f"{self.path}: writing failed ({e.strerror or e}); what was stored before is kept and "
                "indexing again resumes"
            ) from e
        finally:
            self._lock.release()
            if first and created and not self.layout.exists():
                self._remove_unused_directory()

    def _remove_unused_directory(self) -> None:
        """A run that failed before the index existed (an unreachable Chroma server) leaves no empty folder."""
        try:
            if all(f.name == LOCK_FILE for f in self.path.iterdir()):
                shutil.rmtree(self.path, ignore_errors=True)
        except OSError:
            pass

    def _writer_store(self) -> ChromaStore:
        """The store as the writer sees it (opened under the lock; a new index's directory is claimed first)."""
        if self._wstore is None:
            url = self._chroma_url
            new = not self.layout.exists()
            if new and not url:
                self._write_manifest()  # claim the directory before chroma/ appears in it
            store = self._open_store(self.manifest, self._manifest_read, reader=False)
            if new and url:
                self._write_manifest()  # the server answered: now the index exists
            store.mark_seen(self._manifest_read)
            self._wstore = store
        return self._wstore

    def _write_manifest(self) -> None:
        self._manifest_read = self.layout.write_manifest(self.manifest)
        if self._wstore is not None:
            self._wstore.mark_seen(self._manifest_read)  # our own client wrote it: readers here need no reopen

    def _claim_for_reading(self) -> None:
        with self._writing():
            self._writer_store()

    def claim(self) -> None:
        """Write a new index's manifest now (:meth:`add` does it itself, after checking its documents).

        For callers that put files of their own into the directory first, such as translations.
        """
        if not self.layout.exists():
            with self._writing():
                self._write_manifest()

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

    # -- indexing -----------------------------------------------------------------

    def validate(self, documents: Iterable[Document]) -> tuple[list[Document], dict[str, str]]:
        """Check every document and detect missing languages; raises on the first bad one, before anything is written.

        Returns the documents (with detected languages filled in) and their content hashes.
        """
        docs: list[Document] = []
        hashes: dict[str, str] = {}
        for doc in documents:
            if doc.id in hashes:
                raise InputError(f"duplicate document id {doc.id!r}")
            doc = with_language(doc)
            hashes[doc.id] = doc.content_hash()
            docs.append(doc)
        return docs, hashes

    def prepare(self, documents: Iterable[Document]) -> tuple[list[Passage], dict[str, str]]:
        """Validate (see :meth:`validate`) and chunk: the passages and each document's content hash."""
        docs, hashes = self.validate(documents)
        return [p for doc in docs for p in self.chunker.chunk(doc)], hashes

    def add(
        self,
        documents: Iterable[Document],
        *,
        batch_size: int = 32,
        progress: bool | ProgressCallback = True,
        embedder: PassageEmbedder | None = None,
        shard_passages: int = DEFAULT_SHARD_PASSAGES,
    ) -> IndexStats:
        """Index documents; already-indexed unchanged documents cost nothing.

        Every bad document is reported before anything is written. A document whose content
        hash matches what the store holds for all of its passages is not even chunked again.
        BM25 and the language statistics are brought up to date at the end of the run.
        ``embedder`` computes the vectors elsewhere (:class:`clir_rag.scale.RayEmbedder`: encoder
        actors on Ray); everything else, and every write, stays here, so the index is the same.

        ``documents`` is read twice, to check it all and then to index it shard by shard (about
        ``shard_passages`` passages at a time), so a corpus that reads itself afresh on each pass
        (:class:`clir_rag.corpus.Corpus`, a list) is never held in memory whole: what the run
        keeps is each document's id and hash. A one-pass iterator (a generator) is held.
        """
        if batch_size < 1 or shard_passages < 1:
            raise InputError(f"batch_size and shard_passages must be at least 1, got {batch_size}, {shard_passages}")
        if embedder is not None and embedder.spec != self.manifest.encoder:
            raise IndexCompatibilityError(
                f"{self.path} is built with encoder {self.manifest.encoder!r}, the embedder runs {embedder.spec!r}"
            )
        start = time.perf_counter()
        if iter(documents) is documents:  # a one-pass iterator: hold it, since it is read twice
            documents = list(documents)
        hashes: dict[str, str] = {}
        for doc in documents:  # the whole corpus checked before anything is written; only ids and hashes kept
            if doc.id in hashes:
                raise InputError(f"duplicate document id {doc.id!r}")
            hashes[doc.id] = with_language(doc).content_hash()
        if not hashes and not self.layout.exists():
            raise InputError("no documents to index: the corpus is empty")
        with self._writing():
            return self._add(
                documents, hashes, embedder or LocalEmbedder(self.encoder, batch_size), progress, start, shard_passages
            )

    def _shards(
        self, documents: Iterable[Document], hashes: dict[str, str], held: dict[str, tuple[str, int]], size: int
    ) -> Iterator[tuple[int, int, list[Document]]]:
        """The second pass: ``(documents read, passages skipped whole, documents to chunk)`` per shard.

        A complete, unchanged document (its hash held for all of its passages) is not chunked again.
        A shard closes at about ``size`` passages, estimated from token counts, so that the
        chunking can happen elsewhere (a :class:`~clir_rag.embed.base.DocumentEmbedder`).
        """
        read = skipped = estimate = 0
        todo: list[Document] = []
        for doc in documents:
            doc = with_language(doc)
            if hashes.get(doc.id) != doc.content_hash():
                raise InputError(f"document {doc.id!r} changed or appeared while it was being indexed: run again")
            read += 1
            whole = held.get(doc.id)
            if whole is not None and whole[0] == hashes[doc.id]:
                skipped += whole[1]
                continue
            todo.append(doc)
            estimate += self.chunker.estimate_passages(doc.text)
            if estimate >= size:
                yield read, skipped, todo
                read = skipped = estimate = 0
                todo = []
        if read:
            yield read, skipped, todo

    def _add(
        self,
        documents: Iterable[Document],
        hashes: dict[str, str],
        embedder: PassageEmbedder,
        progress: bool | ProgressCallback,
        start: float,
        shard_passages: int,
    ) -> IndexStats:
        stats = IndexStats(documents=len(hashes))
        cut_before = self.chunker.cut_units
        ws = self._writer_store()
        held = ws.stored_documents(list(hashes))
        lang_stats = self._stats_for_update()
        touched: set[str] = set()
        if not self.layout.bm25_dir.exists():
            self.manifest.bm25_stale = True
        self._write_manifest()
        marked = False
        remote_chunking = isinstance(embedder, DocumentEmbedder)
        # each id comes once in a run, so on a store empty at the start no document has passages stored
        started_empty = ws.count() == 0
        chunking = Chunking(self.chunker.max_tokens, self.chunker.overlap, self.title_format, self.chunker.unit)
        report = progress_reporter(progress, len(hashes), "Indexing documents")
        done = 0

        def mark_stale() -> None:
            # BM25 and the statistics marked stale right before Chroma is first touched: a crash leaves them to
            # rebuild, readers keep the state before the run, and a run that fails before storing anything
            # (an unreachable Ray cluster) leaves nothing stale
            nonlocal marked
            if not marked:
                self.manifest.bm25_stale = self.manifest.stats_stale = marked = True
                self._write_manifest()

        def write(batch: list[Passage], vectors: np.ndarray, counts: Sequence[int], stored: set[str]) -> None:
            mark_stale()
            replaced = [p.id for p in batch if p.id in stored]
            if replaced:  # the old version's vector leaves the statistics
                _, old, old_langs = ws.get_vectors(replaced)
                lang_stats.remove(old, old_langs)
            ws.upsert(batch, vectors, [hashes[p.doc_id] for p in batch], list(counts))
            # fold in what Chroma holds (float32), so the sums equal sums over the stored vectors
            lang_stats.add(np.asarray(vectors, dtype=np.float32), [p.lang for p in batch])
            stats.embedded += len(batch)
            touched.update(p.lang for p in batch)

        try:
            for read, skipped_whole, docs in self._shards(documents, hashes, held, shard_passages):
                stats.passages += skipped_whole
                stats.skipped += skipped_whole
                # documents with nothing stored can be chunked by the embedder's workers; the others (changed,
                # or half-written by an interrupted run) are chunked here, so that stored passages are kept
                fresh: list[Document] = []
                local = docs
                if remote_chunking and docs:
                    ids = [] if started_empty else ws.passage_ids_of([d.id for d in docs])
                    has_stored = {pid.rpartition("#")[0] for pid in ids}
                    fresh = [d for d in docs if d.id not in has_stored]
                    local = [d for d in docs if d.id in has_stored]
                passages: list[Passage] = []
                counts: dict[str, int] = {}
                for doc in local:
                    chunks = self.chunker.chunk(doc)
                    counts[doc.id] = len(chunks)
                    passages.extend(chunks)
                stats.passages += len(passages)
                stored = ws.stored_hashes([p.id for p in passages])
                todo = [p for p in passages if stored.get(p.id) != hashes[p.doc_id]]
                stats.skipped += len(passages) - len(todo)
                # A changed document may have fewer passages now: drop its stale tail.
                changed_docs = sorted({p.doc_id for p in todo})
                if changed_docs:
                    keep = {p.id for p in passages}
                    stale = [pid for pid in ws.passage_ids_of(changed_docs) if pid not in keep]
                    if stale:
                        mark_stale()
                    _, old, old_langs = ws.get_vectors(stale)
                    lang_stats.remove(old, old_langs)
                    ws.delete(stale)
                    stats.removed += len(stale)
                # a document counts as done once its last passage is written
                last = {p.doc_id: i for i, p in enumerate(todo)}
                ends = sorted(last.values())
                shard_done = done + read - len(last) - len(fresh)
                report(shard_done)
                texts = [index_text(p.text, p.title, self.title_format) for p in todo]
                was_stored = set(stored)
                for i, vectors in embedder.embed(texts):
                    batch = todo[i : i + len(vectors)]
                    write(batch, vectors, [counts[p.doc_id] for p in batch], was_stored)
                    report(shard_done + bisect.bisect_left(ends, i + len(batch)))
                shard_done += len(last)
                if fresh:
                    assert isinstance(embedder, DocumentEmbedder)
                    for run in embedder.embed_documents(fresh, chunking):
                        write(run.passages, run.vectors, run.counts, set())
                        stats.passages += len(run.passages)
                        stats.cut_units += run.cut_units
                        shard_done += sum(p.index == n - 1 for p, n in zip(run.passages, run.counts, strict=True))
                        report(shard_done)
                done += read
                report(done)
        finally:
            report(None)
        stats.cut_units += self.chunker.cut_units - cut_before
        if stats.cut_units:
            log.warning(
                "%s: %d units longer than a passage (%d %s) were cut at the limit",
                self.path,
                stats.cut_units,
                self.chunker.max_tokens,
                self.chunker.unit,
            )
        if self.manifest.stats_stale or not (self.layout.stats_file).exists():
            self._save_stats(lang_stats, touched=touched)
        if self.manifest.bm25_stale:
            self._persist_bm25(wait=DEFAULT_WAIT)
        stats.seconds = time.perf_counter() - start
        return stats

    def delete(self, doc_ids: Iterable[str]) -> int:
        """Remove documents (all their passages) from the index; unknown ids are ignored.

        Returns the number of passages removed. BM25 and the language statistics follow.
        """
        ids = sorted({str(d) for d in doc_ids})
        with self._writing():
            return self._delete(ids)

    def _delete(self, ids: list[str]) -> int:
        ws = self._writer_store()
        passage_ids = ws.passage_ids_of(ids) if ids else []
        if not passage_ids:
            return 0
        lang_stats = self._stats_for_update()
        self.manifest.bm25_stale = True
        self.manifest.stats_stale = True
        self._write_manifest()
        _, old, old_langs = ws.get_vectors(passage_ids)
        lang_stats.remove(old, old_langs)
        ws.delete(passage_ids)
        self._save_stats(lang_stats)
        self._persist_bm25(wait=DEFAULT_WAIT)
        return len(passage_ids)

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

    # -- query means ----------------------------------------------------------------

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
                _fold(means.calibration, added.calibration)
                means.save_queries(self.path)
        else:
            with self._queries_lock:
                if replace:
                    self._cal_replaced, self._cal_local = True, {}
                _fold(self._cal_local, added.calibration)
                self._local_version += 1
        return {x: langs.count(x) for x in sorted(set(langs))}

    def _stored_query_means(self) -> LanguageStats:
        means = LanguageStats(dim=self.manifest.dim, encoder=self.manifest.encoder)
        means.load_queries(self.path)
        return means

    def flush(self, wait: float | object | None = DEFAULT_WAIT) -> None:
        """Write the served-query means recorded since the last write (read-modify-write under the writer lock).

        ``wait`` bounds the wait for a busy writer (by default the index's own ``wait``); when
        the lock is not free in time, or the index is read-only, the queries stay recorded here
        (and keep counting in searches) for a later flush.
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
                _fold(means.served, delta)
                means.save_queries(self.path)
        except (IndexLockedError, IndexReadOnlyError, IndexWriteError, IndexStatsError) as e:
            self._served_unwritable = self._served_unwritable or isinstance(e, IndexReadOnlyError)
            with self._queries_lock:  # kept for the next flush
                _fold(self._served_delta, delta)
            if wait is DEFAULT_WAIT and not isinstance(e, IndexReadOnlyError):
                raise
            log.debug("served queries not written yet: %s", e)
            return
        with self._queries_lock:
            self._local_version += 1

    # -- BM25 -----------------------------------------------------------------------------

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

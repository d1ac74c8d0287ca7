"""A cross-lingual index in one directory: passages in Chroma, BM25 beside them.

Layout of an index directory::

    clir-rag.json   manifest: encoder, dimension, chunking, BM25 parameters
    chroma/         embedded Chroma (absent when Chroma runs as a server)
    bm25/           per-language BM25 sub-indexes, rebuilt from Chroma after each run
    stats.npz       per-language passage statistics for dense debiasing, kept exact by every run
    query-stats.npz per-language query means (calibration queries, optionally served queries)

Indexing is idempotent and resumable by document id: passage ids are
``<doc id>#<n>``, each passage carries its document's content hash, and a
run embeds only passages that are missing or whose document changed. Vectors
are upserted batch by batch, so an interrupted run keeps what it stored and
the next run picks up from there. BM25 is derived from what Chroma holds and
is rebuilt (atomically) whenever Chroma changed. The language statistics are
updated with every vector stored or removed; a run marks them stale before it
touches Chroma and clears the mark when they are saved, so an interrupted run
leaves them to be rebuilt, never silently wrong.
"""

from __future__ import annotations

import bisect
import errno
import logging
import re
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import ValidationError
from typing_extensions import TypeIs

from clir_rag.chunk import DEFAULT_MAX_TOKENS, DEFAULT_OVERLAP, Chunker, approximate_token_count
from clir_rag.embed import DEFAULT_ENCODER, Encoder, load_encoder
from clir_rag.embed.base import Chunking, DocumentEmbedder, LocalEmbedder, PassageEmbedder
from clir_rag.errors import (
    ClirRagError,
    IndexCompatibilityError,
    IndexCorruptError,
    IndexReadOnlyError,
    IndexStatsError,
    IndexWriteError,
    InputError,
    describe_validation,
)
from clir_rag.languages import detect_language, normalize_language
from clir_rag.lock import LOCK_FILE, WriterLock
from clir_rag.manifest import (
    DEFAULT_TITLE_FORMAT,
    MANIFEST,
    TITLE_FORMATS,
    BM25Params,
    IndexManifest,
    TitleFormat,
    read_manifest,
    write_manifest,
)
from clir_rag.progress import ProgressCallback, progress_reporter
from clir_rag.retrieve import BM25Retriever, DenseRetriever, DocumentRetriever, HybridRetriever, Retriever
from clir_rag.retrieve.debias import DEFAULT_SHRINK, DebiasedDenseRetriever, check_debias, resolve_auto
from clir_rag.store.bm25 import DEFAULT_B, DEFAULT_K1, BM25Index
from clir_rag.store.chroma import DEFAULT_COLLECTION, ChromaStore
from clir_rag.store.matrix import DEFAULT_EXACT_LIMIT
from clir_rag.store.stats import STATS_FILE, LanguageStats
from clir_rag.types import Document, Passage, Query, Ranking

Mode = Literal["dense", "bm25", "hybrid"]
DebiasOption = Literal["auto", "none", "center", "zscore"]
# Served queries are folded into the running query means in memory and written every this many.
_SERVED_FLUSH = 20
log = logging.getLogger("clir_rag")
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
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


class CrossLingualIndex:
    """Open or create an index directory.

    ``encoder`` is an :class:`~clir_rag.embed.Encoder` or a spec string; for an
    existing index it defaults to the one recorded in its manifest, and a
    different one raises :class:`~clir_rag.errors.IndexCompatibilityError`.
    ``chroma_url`` keeps vectors in a Chroma server instead of ``path/chroma``; each index
    gets a collection of its own there, named from the index's id (or ``collection``), and a
    collection recorded for another index is refused.
    ``title_format`` says how a title joins its passage's text (:func:`index_text`); like the
    chunking it is fixed when the index is created. Up to ``exact_limit`` passages, dense
    search scores every passage in memory (exact and reproducible; :mod:`clir_rag.store.matrix`).

    Nothing is written until the first :meth:`add`, and only after its documents were checked.
    Opening an existing index checks its stores against the manifest (counts, not a scan): a
    deleted or emptied vector store is an :class:`~clir_rag.errors.IndexCorruptError` that says
    how to rebuild, never an empty result; a damaged BM25 is rebuilt from the vector store.
    One process writes at a time (:mod:`clir_rag.lock`); ``wait`` is how long a writer waits
    for another to finish (0: fail at once with :class:`~clir_rag.errors.IndexLockedError`;
    None: as long as it takes). Readers never wait.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        encoder: Encoder | str | None = None,
        max_tokens: int | None = None,
        overlap: int | None = None,
        chroma_url: str | None = None,
        collection: str | None = None,
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
        title_format: TitleFormat | None = None,
        exact_limit: int = DEFAULT_EXACT_LIMIT,
        wait: float | None = 0.0,
    ) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise IndexCompatibilityError(f"{self.path} is a file, not an index directory")
        manifest = self._read_manifest()
        if manifest is None:
            self.encoder = encoder if _is_encoder(encoder) else load_encoder(encoder or DEFAULT_ENCODER)
            index_id = uuid.uuid4().hex
            if collection is None:  # on a shared server every index needs a collection of its own
                collection = f"clir_{index_id[:16]}" if chroma_url else DEFAULT_COLLECTION
            _check_collection_name(collection)
            manifest = IndexManifest(
                index_id=index_id,
                encoder=self.encoder.spec,
                model=getattr(self.encoder, "model_name", self.encoder.spec),
                dim=self.encoder.dim,
                max_tokens=max_tokens or DEFAULT_MAX_TOKENS,
                overlap=overlap if overlap is not None else DEFAULT_OVERLAP,
                title_format=_check_title_format(title_format or DEFAULT_TITLE_FORMAT),
                chroma_url=chroma_url,
                collection=collection,
                bm25=BM25Params(k1=k1, b=b),
            )
        else:
            self._check_compatible(manifest, encoder, max_tokens, overlap, title_format)
            if collection is not None and collection != manifest.collection:
                raise IndexCompatibilityError(
                    f"{self.path} keeps its passages in collection {manifest.collection!r}, not {collection!r}"
                )
            self.encoder = encoder if _is_encoder(encoder) else load_encoder(manifest.encoder)
            if self.encoder.dim != manifest.dim:
                raise IndexCompatibilityError(
                    f"{self.path}: index has {manifest.dim}-dimensional vectors but encoder "
                    f"{self.encoder.spec!r} gives {self.encoder.dim}"
                )
        self.manifest: IndexManifest = manifest
        # checked before anything is written: bad chunking settings never reach a manifest
        self.chunker = Chunker(manifest.max_tokens, manifest.overlap, self.encoder.count_tokens)
        limit = getattr(self.encoder, "max_input_tokens", None)
        if limit is not None and manifest.max_tokens > limit and not (self.path / MANIFEST).exists():
            raise InputError(
                f"passages of {manifest.max_tokens} tokens are longer than encoder {self.encoder.spec!r} reads "
                f"({limit} tokens): their ends would be dropped silently; use max_tokens <= {limit}"
            )
        self.title_format: str = manifest.title_format
        self._chroma_url = chroma_url or manifest.chroma_url
        self._exact_limit = exact_limit
        self._store: ChromaStore | None = None
        self._lock = WriterLock(self.path, wait=wait)
        self._manifest_read: object = self._manifest_stamp()
        self._bm25: BM25Index | None = None
        self._stats: LanguageStats | None = None
        self._stats_checked: object = None
        self._served_unsaved = 0

    # -- the vector store, opened on first use and checked -----------------------

    @property
    def store(self) -> ChromaStore:
        """The vector store, opened on first use; an existing index's store is checked against the manifest."""
        if self._store is None:
            self._store = self._open_store()
        return self._store

    def _open_store(self) -> ChromaStore:
        url = self._chroma_url
        new = not (self.path / MANIFEST).exists()
        expected = self.manifest.passages or 0
        rebuild = f"rebuild it from the corpus: clir-rag index CORPUS --index {self.path} --rebuild"
        if new and not url:
            self._write_manifest()  # claim the directory before chroma/ appears in it
        try:
            store = ChromaStore(
                None if url else self.path / "chroma",
                url=url,
                collection=self.manifest.collection,
                encoder_spec=self.manifest.encoder,
                dim=self.manifest.dim,
                exact_limit=self._exact_limit,
                # a server's collection can be changed from anywhere: ask it for its count too
                freshness=(lambda: (self._manifest_stamp(), self.store.count())) if url else self._manifest_stamp,
                owner=self.manifest.index_id,
                create=new or expected == 0,  # an index that recorded passages must find its store
            )
        except IndexCorruptError as e:
            raise IndexCorruptError(
                f"{self.path}: {e}, but the manifest records {expected} passages; {rebuild}"
            ) from None
        if new and url:
            self._write_manifest()  # the server answered: now the index exists
        if not self.manifest.bm25_stale and self.manifest.passages is not None:
            count = store.count()
            if count != self.manifest.passages:
                what = "is empty" if count == 0 else f"holds {count}"
                raise IndexCorruptError(
                    f"{self.path}: the vector store {what} but the manifest records {self.manifest.passages} "
                    f"passages (emptied, replaced, or written by another index); {rebuild}"
                )
        return store

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the writer lock; on first taking it, pick up what another writer changed meanwhile."""
        first = not self._lock.held
        try:
            self._lock.acquire()
        except OSError as e:
            if e.errno in _READ_ONLY:
                raise IndexReadOnlyError(f"{self.path} is read-only: it can be searched, not written") from None
            raise
        try:
            if first and self._manifest_stamp() not in (None, self._manifest_read):
                fresh = self._read_manifest()
                if fresh is not None:
                    self.manifest = fresh
                    self._bm25, self._stats, self._stats_checked = None, None, None
            yield
        except OSError as e:  # a full disk, a file-size limit: the run stops, what it stored stays valid
            raise IndexWriteError(
                f"{self.path}: writing failed ({e.strerror or e}); what was stored before is kept and "
                "indexing again resumes"
            ) from e
        finally:
            self._lock.release()

    def claim(self) -> None:
        """Write a new index's manifest now (:meth:`add` does it itself, after checking its documents).

        For callers that put files of their own into the directory first, such as translations.
        """
        if not (self.path / MANIFEST).exists():
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
                try:
                    ChromaStore(
                        url=self._chroma_url,
                        collection=self.manifest.collection,
                        encoder_spec=self.manifest.encoder,
                        dim=self.manifest.dim,
                        owner=self.manifest.index_id,
                    ).drop()
                except IndexCompatibilityError:
                    raise
            else:
                shutil.rmtree(self.path / "chroma", ignore_errors=True)
            shutil.rmtree(self.path / "bm25", ignore_errors=True)
            (self.path / STATS_FILE).unlink(missing_ok=True)
            self._store, self._bm25, self._stats, self._stats_checked = None, None, None, None

    # -- manifest -----------------------------------------------------------------

    def _read_manifest(self) -> IndexManifest | None:
        file = self.path / MANIFEST
        if not file.exists():
            if self.path.exists() and any(f.name != LOCK_FILE for f in self.path.iterdir()):
                raise IndexCompatibilityError(
                    f"{self.path} is not empty and holds no {MANIFEST}: not a clir-rag index "
                    "(give an empty or new directory)"
                )
            return None
        return read_manifest(file)

    def _check_compatible(
        self,
        manifest: IndexManifest,
        encoder: Encoder | str | None,
        max_tokens: int | None,
        overlap: int | None,
        title_format: str | None,
    ) -> None:
        spec = encoder.spec if _is_encoder(encoder) else encoder
        if spec is not None and spec != manifest.encoder:
            raise IndexCompatibilityError(
                f"{self.path} was built with encoder {manifest.encoder!r} ({manifest.dim} dims), "
                f"not {spec!r}: search it with its own encoder or index into a new directory"
            )
        for name, value in (("max_tokens", max_tokens), ("overlap", overlap), ("title_format", title_format)):
            if value is not None and value != getattr(manifest, name):
                raise IndexCompatibilityError(
                    f"{self.path} was built with {name}={getattr(manifest, name)}, not {value}: "
                    "index into a new directory to change chunking"
                )

    def _manifest_stamp(self) -> object:
        """Changes whenever an indexing run (here or in another process) rewrites the manifest."""
        try:
            st = (self.path / MANIFEST).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _write_manifest(self) -> None:
        try:
            write_manifest(self.manifest, self.path / MANIFEST)
        except OSError as e:
            if e.errno not in _READ_ONLY:
                raise
            raise IndexReadOnlyError(f"{self.path} is read-only: it can be searched, not written") from None
        self._manifest_read = self._manifest_stamp()

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
            doc = _with_language(doc)
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
            hashes[doc.id] = _with_language(doc).content_hash()
        if not hashes and not (self.path / MANIFEST).exists():
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
        step = max(1, self.chunker.max_tokens - self.chunker.overlap)
        for doc in documents:
            doc = _with_language(doc)
            if hashes.get(doc.id) != doc.content_hash():
                raise InputError(f"document {doc.id!r} changed or appeared while it was being indexed: run again")
            read += 1
            whole = held.get(doc.id)
            if whole is not None and whole[0] == hashes[doc.id]:
                skipped += whole[1]
                continue
            todo.append(doc)
            estimate += 1 + approximate_token_count(doc.text) // step
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
        held = self.store.stored_documents(list(hashes))
        lang_stats = self._stats_for_update()
        touched: set[str] = set()
        if not (self.path / "bm25").exists():
            self.manifest.bm25_stale = True
        self._write_manifest()
        marked = False
        remote_chunking = isinstance(embedder, DocumentEmbedder)
        # each id comes once in a run, so on a store empty at the start no document has passages stored
        started_empty = self.store.count() == 0
        chunking = Chunking(self.chunker.max_tokens, self.chunker.overlap, self.title_format)
        report = progress_reporter(progress, len(hashes), "Indexing documents")
        done = 0

        def mark_stale() -> None:
            # BM25 and the statistics marked stale before Chroma is touched: a crash leaves them to rebuild
            nonlocal marked
            if not marked:
                self.manifest.bm25_stale = self.manifest.stats_stale = marked = True
                self._write_manifest()

        def write(batch: list[Passage], vectors: np.ndarray, counts: Sequence[int], stored: set[str]) -> None:
            replaced = [p.id for p in batch if p.id in stored]
            if replaced:  # the old version's vector leaves the statistics
                _, old, old_langs = self.store.get_vectors(replaced)
                lang_stats.remove(old, old_langs)
            self.store.upsert(batch, vectors, [hashes[p.doc_id] for p in batch], list(counts))
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
                    ids = [] if started_empty else self.store.passage_ids_of([d.id for d in docs])
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
                stored = self.store.stored_hashes([p.id for p in passages])
                todo = [p for p in passages if stored.get(p.id) != hashes[p.doc_id]]
                stats.skipped += len(passages) - len(todo)
                if todo or fresh:
                    mark_stale()
                # A changed document may have fewer passages now: drop its stale tail.
                changed_docs = sorted({p.doc_id for p in todo})
                if changed_docs:
                    keep = {p.id for p in passages}
                    stale = [pid for pid in self.store.passage_ids_of(changed_docs) if pid not in keep]
                    _, old, old_langs = self.store.get_vectors(stale)
                    lang_stats.remove(old, old_langs)
                    self.store.delete(stale)
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
                "%s: %d units longer than a passage (%d tokens) were cut at the token limit",
                self.path,
                stats.cut_units,
                self.chunker.max_tokens,
            )
        if self.manifest.stats_stale or not (self.path / STATS_FILE).exists():
            self._save_stats(lang_stats, touched=touched)
        if self.manifest.bm25_stale:
            self.rebuild_bm25()
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
        passage_ids = self.store.passage_ids_of(ids) if ids else []
        if not passage_ids:
            return 0
        lang_stats = self._stats_for_update()
        self.manifest.bm25_stale = True
        self.manifest.stats_stale = True
        self._write_manifest()
        _, old, old_langs = self.store.get_vectors(passage_ids)
        lang_stats.remove(old, old_langs)
        self.store.delete(passage_ids)
        self._save_stats(lang_stats)
        self.rebuild_bm25()
        return len(passage_ids)

    # -- language statistics ------------------------------------------------------

    def _stats_for_update(self) -> LanguageStats:
        """The statistics an indexing run updates: loaded, or rebuilt where an earlier run left them stale."""
        if self._stats is not None and not self.manifest.stats_stale:
            return self._stats
        file = self.path / STATS_FILE
        if self.manifest.stats_stale or (not file.exists() and self.store.count() > 0):
            return self.rebuild_stats(progress=False)
        if not file.exists():
            self._stats = LanguageStats(dim=self.manifest.dim, encoder=self.manifest.encoder)
        else:
            self._stats = LanguageStats.load(self.path)
        return self._stats

    def _save_stats(self, lang_stats: LanguageStats, touched: Iterable[str] = ()) -> None:
        for lang in sorted(set(touched)):
            if lang in lang_stats.passages and lang_stats.needs_tightening(lang):
                lang_stats.tighten(lang, np.concatenate([v for v, _ in self.store.iter_vectors(lang=lang)]))
        lang_stats.save(self.path)
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
        old: LanguageStats | None = self._stats
        if old is None:
            try:
                old = LanguageStats.load(self.path)
            except IndexStatsError:
                old = None
        report = progress_reporter(progress, self.store.count(), "Rebuilding language statistics")
        done = 0

        def batches():
            nonlocal done
            for vectors, langs in self.store.iter_vectors():
                done += len(langs)
                report(done)
                yield vectors, langs

        try:
            fresh = LanguageStats.from_vectors(batches(), dim=self.manifest.dim, encoder=self.manifest.encoder)
        finally:
            report(None)
        if old is not None:
            fresh.calibration, fresh.served = old.calibration, old.served
        fresh.save(self.path)
        self._stats = fresh
        self.manifest.stats_stale = False
        self._write_manifest()
        return fresh

    @property
    def language_stats(self) -> LanguageStats:
        """The index's language statistics, checked against the store.

        Raises :class:`~clir_rag.errors.IndexStatsError` when they are missing, stale (an
        indexing run was interrupted) or do not cover the passages the store holds.
        """
        stamp = self._manifest_stamp()
        if self._stats is not None and stamp is not None and self._stats_checked == stamp:
            return self._stats  # nothing was indexed since the last check (it asks the store for a count)
        fix = f"rebuild them: clir-rag stats --rebuild --index {self.path}"
        if self.manifest.stats_stale:
            raise IndexStatsError(f"{self.path}: the language statistics are stale (an indexing run stopped); {fix}")
        if self._stats is None:
            self._stats = LanguageStats.load(self.path)
        if self._stats.encoder != self.manifest.encoder or self._stats.dim != self.manifest.dim:
            raise IndexStatsError(f"{self.path}: the language statistics belong to another encoder; {fix}")
        count = self.store.count()
        if self._stats.total != count:
            raise IndexStatsError(
                f"{self.path}: the language statistics cover {self._stats.total} passages but the vector store "
                f"holds {count} (changed by another process or index?); {fix}"
            )
        self._stats_checked = stamp
        return self._stats

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
        to the stored means; ``replace`` drops the stored calibration first. ``persist=False``
        keeps the calibration in this object only (the evaluation harness does that, since the
        index may be shared). Returns the number of queries added per language.
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
        vectors = self.encoder.encode_queries([q.text for q in items])
        stats = self.language_stats
        if replace:
            stats.calibration.clear()
        stats.add_queries(np.asarray(vectors, dtype=np.float64), langs)
        if persist:
            with self._writing():
                stats.save_queries(self.path)
        return {x: langs.count(x) for x in sorted(set(langs))}

    def record_served_query(self, vector: np.ndarray, lang: str) -> None:
        """Fold one served query into the running served-query mean (written every few queries)."""
        stats = self.language_stats
        stats.add_queries(np.asarray(vector, dtype=np.float64)[None, :], [lang], served=True)
        self._served_unsaved += 1
        if self._served_unsaved >= _SERVED_FLUSH:
            self.flush()

    def flush(self) -> None:
        """Write served-query means recorded since the last write."""
        if self._served_unsaved and self._stats is not None:
            self._stats.save_queries(self.path)
            self._served_unsaved = 0

    def resolve_debias(self, debias: DebiasOption, query_lang: str | None = None) -> str:
        """What ``debias`` does here: ``auto`` is ``center`` with several document languages, and with one
        it is ``center`` only for a query whose language mean is known (see
        :func:`clir_rag.retrieve.debias.resolve_auto`). Without ``query_lang``, ``auto`` stays ``auto``
        on a one-language index, decided per query.
        """
        if debias != "auto":
            return check_debias(debias)
        stats = self.language_stats
        if len(stats.passages) > 1 or query_lang is not None:
            return resolve_auto(stats, query_lang)
        return "auto" if stats.calibration or stats.served else "none"

    def rebuild_bm25(self) -> BM25Index:
        """Rebuild BM25 from every passage in Chroma and persist it (in memory only for a read-only index)."""
        if self.store.read_only:
            return self._build_bm25()
        with self._writing():
            bm25 = self._build_bm25()
            bm25.save(self.path / "bm25")
            self.manifest.bm25_stale = False
            self.manifest.passages = len(bm25)
            self._write_manifest()
            self._bm25 = bm25
            return bm25

    def _build_bm25(self) -> BM25Index:
        return BM25Index.build(
            (
                (pid, index_text(text, meta.get("title"), self.title_format), meta["lang"])
                for pid, text, meta in self.store.iter_passages()
            ),
            k1=self.manifest.bm25.k1,
            b=self.manifest.bm25.b,
        )

    @property
    def bm25(self) -> BM25Index:
        """The BM25 sub-indexes, loaded on first use (rebuilt from Chroma when an indexing run left them stale)."""
        if self._bm25 is None:
            store = self.store  # checked against the manifest first: BM25 is derived from it
            loaded: BM25Index | None = None
            if not self.manifest.bm25_stale:
                try:
                    loaded = BM25Index.load(self.path / "bm25")
                except Exception as e:  # deleted or truncated files: BM25 is derived data, rebuild it
                    log.warning(
                        "%s: BM25 is unreadable (%s: %s); rebuilding it from the vector store",
                        self.path,
                        type(e).__name__,
                        e,
                    )
                if loaded is not None and len(loaded) != store.count():
                    log.warning(
                        "%s: BM25 holds %d passages, the vector store %d; rebuilding BM25",
                        self.path,
                        len(loaded),
                        store.count(),
                    )
                    loaded = None
            # else an earlier run was interrupted after changing Chroma: finish its work
            self._bm25 = loaded if loaded is not None else self.rebuild_bm25()
        return self._bm25

    def __len__(self) -> int:
        return self.store.count()

    def health(self) -> dict[str, dict[str, str]]:
        """TEMP (serve-hardening; the lead replaces it): ``{"index": ..., "store": ...}``, each
        ``{"status": "ok" | "degraded" | "down", "reason": str}``."""
        index = {"status": "ok", "reason": ""}
        try:
            manifest = self._read_manifest()
        except ClirRagError as e:
            return {"index": {"status": "down", "reason": str(e)}, "store": {"status": "ok", "reason": ""}}
        if manifest is None:
            index = {"status": "down", "reason": f"{self.path}: the manifest is gone"}
        elif manifest.stats_stale or manifest.bm25_stale:
            index = {"status": "degraded", "reason": "an indexing run is under way or stopped midway"}
        try:
            count = self.store.count()
        except ClirRagError as e:
            return {"index": index, "store": {"status": "down", "reason": str(e)}}
        expected = manifest.passages if manifest is not None else None
        if expected is not None and count != expected and index["status"] == "ok":
            index = {"status": "degraded", "reason": f"the store holds {count} passages, the manifest {expected}"}
        return {"index": index, "store": {"status": "ok", "reason": ""}}

    # -- searching ----------------------------------------------------------------

    def retriever(
        self,
        mode: Mode = "dense",
        *,
        fusion: Literal["rrf", "weighted"] = "rrf",
        weights: Sequence[float] | None = None,
        documents: Literal["maxp", "firstp"] | None = None,
        debias: DebiasOption = "auto",
        shrink: float = DEFAULT_SHRINK,
        record_queries: bool = False,
    ) -> Retriever:
        """A retriever over this index; ``documents`` aggregates passages to documents, exactly.

        ``documents="maxp"`` ranks documents by their best passage, ``"firstp"`` by their first
        (:class:`~clir_rag.retrieve.DocumentRetriever`): every passage counts, so a document whose
        best passage would rank 500th among passages is still found, and k documents come back
        whenever the index holds k. For long documents 128-token passages ranked best
        (evals/README.md, "Long documents").

        ``dense`` is the default because, across languages and without translation,
        BM25 mostly adds noise: on XQuAD en->de, RRF of dense and BM25 scores nDCG@20
        0.67 against dense's 0.92 (evals/README.md). ``hybrid`` pays off for
        same-language queries and over translated text.

        ``debias`` corrects the dense side for language bias (see
        :mod:`clir_rag.retrieve.debias`): ``center``, ``zscore``, ``none``, or ``auto``
        (:meth:`resolve_debias`). Anything but ``none`` needs the index's language statistics
        and raises :class:`~clir_rag.errors.IndexStatsError` when they are missing or stale.
        ``record_queries`` folds served queries into a running query mean, used for
        query languages without passages or calibration.
        """
        if mode not in ("dense", "bm25", "hybrid"):
            raise InputError(f"unknown mode {mode!r}: use 'dense', 'bm25' or 'hybrid'")
        method = self.resolve_debias(debias) if mode != "bm25" else "none"
        if record_queries and debias == "auto" and mode != "bm25":
            method = "auto"  # decided per query, so that served queries can start to count
        if method == "none" and not record_queries:
            dense: Retriever = DenseRetriever(self.store, self.encoder)
        else:
            dense = DebiasedDenseRetriever(
                self.store,
                self.encoder,
                lambda: self.language_stats,
                method,  # type: ignore[arg-type]
                shrink=shrink,
                record_queries=self.record_served_query if record_queries else None,
            )
        if mode == "dense":
            r: Retriever = dense
        elif mode == "bm25":
            r = BM25Retriever(self.bm25, self.store)
        else:
            r = HybridRetriever([dense, BM25Retriever(self.bm25, self.store)], method=fusion, weights=weights)
        return DocumentRetriever(r, documents) if documents else r

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


def _with_language(doc: Document) -> Document:
    """``doc`` with its language detected where it has none (an :class:`InputError` where none can be told)."""
    if doc.lang is not None:
        return doc
    lang = detect_language(doc.text or doc.title or "")
    if lang is None:
        raise InputError(f"document {doc.id!r}: no 'lang' given and its language cannot be detected")
    return doc.model_copy(update={"lang": lang, "metadata": {**doc.metadata, "lang_detected": True}})


def _check_title_format(value: str) -> str:
    if value not in TITLE_FORMATS:
        raise InputError(f"unknown title format {value!r}: use {', '.join(TITLE_FORMATS)}")
    return value


def _check_collection_name(name: str) -> None:
    # Chroma's own rule, checked before anything is written rather than by the server mid-run
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]", name) or ".." in name:
        raise InputError(
            f"collection name {name!r}: use 3-63 letters, digits, '.', '_' or '-', starting and ending alphanumeric"
        )


def _is_encoder(obj: object) -> TypeIs[Encoder]:
    return obj is not None and not isinstance(obj, str)


def index_text(text: str, title: str | None, title_format: str = DEFAULT_TITLE_FORMAT) -> str:
    """What is embedded and BM25-indexed for a passage: its text, joined with its title as the index says.

    Titles carry topical words that short passages often lack. A passage without text (a titled
    document with no body) is its title alone.
    """
    if not title or title_format == "none":
        return text
    if not text.strip():
        return title
    if title_format == "dot":
        return f"{title}{'' if title.rstrip()[-1:] in '.!?。' else '.'} {text}"
    if title_format == "title-prefix":
        return f"title: {title}\n{text}"
    return f"{title}\n{text}"

"""The writing half of an index: adding and deleting documents, all under the writer lock.

Indexing is idempotent and resumable by document id: passage ids are ``<doc id>#<n>``, each
passage carries its document's content hash, and a run embeds only passages that are missing
or whose document changed. Vectors are upserted batch by batch, so an interrupted run keeps
what it stored and the next run picks up from there. BM25 is derived from what Chroma holds
and is rebuilt (atomically) whenever Chroma changed. The language statistics are updated with
every vector stored or removed; a run marks them stale before it first touches Chroma and
commits statistics, BM25 and manifest at its end, in that order (see
:mod:`clir_rag.index.layout`), so an interrupted run leaves them to be rebuilt, never silently
wrong, and readers switch to the new state at the manifest.

:class:`IndexWriter` is the whole writing half: the lock and manifest
(:mod:`clir_rag.index.writer_base`), the derived statistics and BM25
(:mod:`clir_rag.index.derived`) and the query means (:mod:`clir_rag.index.query_means`) come
from its bases.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clir_rag.chunk import Chunker
from clir_rag.deprecation import renamed
from clir_rag.embed.base import Chunking, DocumentEmbedder, LocalEmbedder, PassageEmbedder
from clir_rag.errors import IndexCompatibilityError, InputError
from clir_rag.index.derived import DerivedDataWriter
from clir_rag.index.layout import index_text, with_language
from clir_rag.index.query_means import QueryMeansWriter
from clir_rag.lock import DEFAULT_WAIT
from clir_rag.progress import ProgressCallback, progress_reporter
from clir_rag.types import Document, Passage

log = logging.getLogger("clir_rag")
# Passages chunked, embedded and written per shard of an indexing run: what the run holds in memory at
# once, and (on Ray) one encoder-actor pool's job.
DEFAULT_SHARD_PASSAGES = 50_000


@dataclass
class AddReport:
    """What one :meth:`CrossLingualIndex.add` run did: documents and passages seen, embedded, skipped, removed."""

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


class IndexWriter(DerivedDataWriter, QueryMeansWriter):
    """Writing an index directory, one writer at a time (:mod:`clir_rag.lock`); it reads as an :class:`IndexReader`."""

    chunker: Chunker

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
    ) -> AddReport:
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
    ) -> AddReport:
        stats = AddReport(documents=len(hashes))
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


_RENAMED = {"IndexStats": "clir_rag.index.writer.AddReport"}  # kept for one release


def __getattr__(name: str) -> Any:
    return renamed(__name__, name, _RENAMED)

"""What every write to an index goes through: the writer lock, the writer's view of the store, the manifest.

One process writes at a time (:mod:`clir_rag.lock`). On first taking the lock a writer picks up
what another writer committed meanwhile; a failed write (a full disk) becomes an
:class:`~clir_rag.errors.IndexWriteError` that keeps what was stored. A new index's directory
is created by writing its manifest (:meth:`WriterBase.create`), which :meth:`add` does itself.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from clir_rag.errors import IndexReadOnlyError, IndexWriteError
from clir_rag.index.layout import READ_ONLY_ERRNOS
from clir_rag.index.reader import IndexReader
from clir_rag.lock import DEFAULT_WAIT, LOCK_FILE
from clir_rag.store.chroma import ChromaStore
from clir_rag.store.stats import LanguageStats


class WriterBase(IndexReader):
    """The writer lock and the writer's view of an index directory; the base of the writing half."""

    def _init_writer(self) -> None:
        self._wstore: ChromaStore | None = None
        self._stats: LanguageStats | None = None  # the statistics runs update (passages only)
        self._manifest_read: object = self.layout.stamp()

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
        """The store as the writer sees it (opened under the lock; a new index's directory is created first)."""
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

    def create(self) -> None:
        """Create the index on disk now: write a new index's manifest (an existing index is left as it is).

        :meth:`add` does it itself, after checking its documents; this is for callers that put
        files of their own into the directory first, such as translations.
        """
        if not self.layout.exists():
            with self._writing():
                self._write_manifest()

    def claim(self) -> None:
        """Deprecated: the old name of :meth:`create` (kept for one release)."""
        warnings.warn("claim() is deprecated: use create()", DeprecationWarning, stacklevel=2)
        self.create()

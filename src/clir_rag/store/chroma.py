"""Chroma as the vector store: embedded and persistent by default, or a server by URL.

:class:`ChromaStore` holds one collection and what a search keeps of it: the exact-search
copy (:mod:`clir_rag.store.matrix`), the writes that make that copy stale, and the guard
that turns Chroma's errors into clir-rag errors. How clients are opened and shared lives
in :mod:`clir_rag.store.chroma_clients`; what each read or write means, in
:mod:`clir_rag.store.chroma_rows`. Chroma never embeds anything itself here: its default
embedding function downloads a model, so every collection is opened with
``embedding_function=None`` and we always pass vectors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from clir_rag.errors import (
    ClirRagError,
    IndexCompatibilityError,
    IndexCorruptError,
    IndexReadOnlyError,
    InputError,
    StoreUnavailableError,
)
from clir_rag.store import chroma_rows as rows
from clir_rag.store.chroma_clients import EmbeddedClient, embedded_client, forget_embedded, open_client
from clir_rag.store.matrix import DEFAULT_EXACT_LIMIT, VectorMatrix
from clir_rag.types import Passage, ScoredCandidate

DEFAULT_COLLECTION = "clir_passages"
# Above the exact-search limit Chroma's HNSW answers; wider search lists than Chroma's defaults (100)
# keep its recall near exact at the sizes clir-rag is used at.
_HNSW = {"space": "cosine", "ef_construction": 200, "ef_search": 200}


class _Guarded:
    """Chroma's collection with every call's errors turned into one-line clir-rag errors.

    Chroma raises its own, httpx's and sqlite's exceptions (a server gone away, a file
    deleted under a running process, a read-only database); callers get a
    :class:`~clir_rag.errors.StoreUnavailableError` that says where. On an embedded store each
    call holds the shared client open and finds the collection again after a reopen.
    """

    def __init__(self, store: ChromaStore, where: str) -> None:
        self._store = store
        self._where = where

    def __getattr__(self, name: str) -> Any:
        store = self._store
        if not callable(getattr(store._raw, name)):
            return getattr(store._raw, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                with store._use() as raw:
                    return getattr(raw, name)(*args, **kwargs)
            except ClirRagError:
                raise
            except Exception as e:
                raise StoreUnavailableError(f"{self._where}: {name} failed: {type(e).__name__}: {e}") from e

        return call


class ChromaStore:
    """Passages and their vectors in one Chroma collection, upserted by passage id.

    Up to ``exact_limit`` passages, :meth:`matrix` keeps every vector in memory for exact
    search (see :mod:`clir_rag.store.matrix`); ``freshness`` returns a token that changes
    whenever another process may have changed the collection (the index passes its manifest's
    modification time), and our own writes drop the copy at once. 0 turns exact search off.
    With :attr:`keep_texts` set before the first search, the copy holds passage texts too, and
    :meth:`get` answers from it: a reader's state then needs the store only to load.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        url: str | None = None,
        collection: str = DEFAULT_COLLECTION,
        encoder_spec: str,
        dim: int,
        exact_limit: int = DEFAULT_EXACT_LIMIT,
        freshness: Callable[[], object] | None = None,
        owner: str | None = None,
        create: bool = True,
        seen: object = None,
    ) -> None:
        """``owner`` (an index id) is recorded on a new collection, and a collection recorded for another
        owner is refused. ``create=False`` opens an existing store only: a missing one is an
        :class:`~clir_rag.errors.IndexCorruptError`, never a new empty store. A directory that cannot
        be written is searched from a temporary copy (:attr:`read_only`); writing to it raises
        :class:`~clir_rag.errors.IndexReadOnlyError`. ``seen`` names the state the caller saw before
        opening (an index's manifest stamp): a client this process opens on it needs no :meth:`reopen`."""
        where = f"Chroma server {url}" if url else f"Chroma store {path}"
        self._embedded: EmbeddedClient | None = None
        if url:
            self.client = open_client(None, url)
            self.read_only = False
        elif path is None:
            raise InputError("give a directory (embedded Chroma) or a URL (Chroma server)")
        else:
            self._embedded = embedded_client(Path(path), create=create, seen=seen)
            self.client = self._embedded.client
            self.read_only = self._embedded.read_only
        self._epoch = self._embedded.epoch if self._embedded else 0
        self._matrix_lock = threading.Lock()
        self.exact_limit = exact_limit
        self._freshness = freshness
        self._matrix: VectorMatrix | None = None
        # texts and metadata loaded with the matrix, for a reader's fixed state (see keep_texts)
        self._texts: rows.Texts | None = None
        self.keep_texts = False
        self._too_large: object = None
        self._writes = 0
        self.name = collection
        try:
            with self._client_in_use() as client:
                raw = self._collection(client, collection, create, encoder_spec, dim, owner, where)
        except ClirRagError:
            raise
        except Exception as e:
            raise StoreUnavailableError(f"{where}: cannot open collection {collection!r}: {e}") from None
        self._raw = raw
        self.collection = _Guarded(self, where)
        meta = raw.metadata or {}
        if meta.get("encoder") != encoder_spec or meta.get("dim") != dim:
            raise IndexCompatibilityError(
                f"Chroma collection {collection!r} holds vectors of encoder {meta.get('encoder')!r} "
                f"({meta.get('dim')} dims), not {encoder_spec!r} ({dim} dims): "
                "use a new collection or index directory"
            )
        if owner and meta.get("index") and meta["index"] != owner:
            fix = "give each index its own collection (--collection)" if url else "was the store copied from it?"
            raise IndexCompatibilityError(
                f"{where}: collection {collection!r} belongs to another index (id {meta['index']}), not this one "
                f"(id {owner}); {fix}"
            )
        self.dim = dim

    @staticmethod
    def _collection(
        client: Any, collection: str, create: bool, encoder_spec: str, dim: int, owner: str | None, where: str
    ) -> Any:
        if create:
            metadata: dict[str, Any] = {"encoder": encoder_spec, "dim": dim}
            if owner:
                metadata["index"] = owner
            return client.get_or_create_collection(
                collection, embedding_function=None, configuration={"hnsw": dict(_HNSW)}, metadata=metadata
            )
        existing = {c if isinstance(c, str) else c.name for c in client.list_collections()}
        if collection not in existing:
            raise IndexCorruptError(f"{where}: the collection {collection!r} is missing")
        return client.get_collection(collection, embedding_function=None)

    @contextmanager
    def _client_in_use(self) -> Iterator[Any]:
        if self._embedded is None:
            yield self.client
        else:
            with self._embedded.using() as client:
                yield client

    @contextmanager
    def _use(self) -> Iterator[Any]:
        """The raw collection for one call; on an embedded store, found again after the client was reopened."""
        if self._embedded is None:
            yield self._raw
            return
        with self._embedded.using() as client:
            if self._epoch != self._embedded.epoch:
                self._raw = client.get_collection(self.name, embedding_function=None)
                self.client, self._epoch = client, self._embedded.epoch
            yield self._raw

    def reopen(self, seen: object) -> None:
        """See the store as another process left it: an embedded store's client is opened afresh (once per
        ``seen`` state, for every store of this process on the directory); in-memory copies are dropped."""
        if self._embedded is not None:
            self._embedded.reopen(seen)
        self._changed()

    def mark_seen(self, seen: object) -> None:
        """Record that this process's client already holds state ``seen`` (its own write): no reopen for it."""
        if self._embedded is not None:
            self._embedded.seen = seen

    def _writable(self) -> None:
        if self.read_only:
            raise IndexReadOnlyError("the index directory is read-only: it can be searched, not written")

    def count(self) -> int:
        """Passages stored."""
        return int(self.collection.count())

    def drop(self) -> None:
        """Delete the whole collection (every passage); the store cannot be used afterwards."""
        self._writable()
        self._changed()
        try:
            with self._client_in_use() as client:
                client.delete_collection(self.name)
        except Exception as e:
            raise StoreUnavailableError(f"cannot delete collection {self.name!r}: {e}") from None

    def _changed(self) -> None:
        with self._matrix_lock:
            self._writes += 1
            self._matrix = None

    def matrix(self) -> VectorMatrix | None:
        """Every stored vector in memory, loaded once and reloaded after a change; None above ``exact_limit``."""
        if self.exact_limit <= 0:
            return None
        version = (self._writes, self._freshness() if self._freshness else self.count())
        current = self._matrix
        if current is not None and current.version == version:
            return current
        with self._matrix_lock:  # built once, however many searches ask for it at the same time
            if self._matrix is not None and self._matrix.version == version:
                return self._matrix
            self._matrix = self._load_matrix(version)
            return self._matrix

    def _load_matrix(self, version: object) -> VectorMatrix | None:
        if self._too_large == (version, self.exact_limit):  # checked already: no count per query
            return None
        if self.count() > self.exact_limit:
            self._too_large = (version, self.exact_limit)
            return None
        matrix, self._texts = rows.read_matrix(self.collection, self.dim, version, keep_texts=self.keep_texts)
        return matrix

    def stored_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """``{passage id: doc hash}`` for those of ``ids`` already stored."""
        return rows.stored_hashes(self.collection, ids)

    def stored_documents(self, doc_ids: Sequence[str]) -> dict[str, tuple[str, int]]:
        """``{doc id: (content hash, passages)}`` for those of ``doc_ids`` stored whole.

        Whole means: every passage the document was cut into is stored, all with the same hash
        (passages record their document's passage count). A document half-written by an
        interrupted run, or indexed before passages recorded the count, is left out, so it is
        chunked again and its missing passages found.
        """
        return rows.stored_documents(self.collection, doc_ids)

    def passage_ids_of(self, doc_ids: Sequence[str]) -> list[str]:
        """The ids of every stored passage of the documents ``doc_ids``."""
        return rows.passage_ids_of(self.collection, doc_ids)

    def delete(self, ids: Sequence[str]) -> None:
        """Remove the passages ``ids`` (ids not stored are ignored)."""
        self._writable()
        self._changed()
        for i in range(0, len(ids), rows.GET_BATCH):
            self.collection.delete(ids=list(ids[i : i + rows.GET_BATCH]))

    def upsert(
        self,
        passages: Sequence[Passage],
        embeddings: np.ndarray,
        doc_hashes: Sequence[str],
        doc_passages: Sequence[int] | None = None,
    ) -> None:
        """Store passages with their vectors, their document's content hash and passage count (for skipping
        unchanged documents without chunking them)."""
        if len(passages) != len(embeddings):
            raise InputError(f"{len(passages)} passages but {len(embeddings)} embeddings")
        if embeddings.ndim != 2 or embeddings.shape[1] != self.dim:
            raise IndexCompatibilityError(
                f"embeddings have shape {embeddings.shape}, the collection expects {self.dim} dims"
            )
        counts: Sequence[int | None] = doc_passages if doc_passages else [None] * len(passages)
        self._writable()
        self._changed()
        self.collection.upsert(
            ids=[p.id for p in passages],
            embeddings=np.asarray(embeddings, dtype=np.float32),
            documents=[p.text for p in passages],
            metadatas=[rows.passage_metadata(p, h, n) for p, h, n in zip(passages, doc_hashes, counts, strict=True)],
        )

    def query(self, embedding: np.ndarray, n: int, langs: Sequence[str] | None = None) -> list[ScoredCandidate]:
        """The ``n`` nearest passages to ``embedding`` by cosine, in documents of ``langs`` (None: all)."""
        return rows.query(self.collection, embedding, n, langs, self.count())

    def nearest_vectors(
        self, embedding: np.ndarray, n: int, langs: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ids, stored vectors and languages of the ``n`` nearest passages (optionally in ``langs``), nearest first.

        No texts travel: the debiased retriever rescores these exactly (rather than trusting
        Chroma's float32 distances) and fetches texts for its final top k alone.
        """
        return rows.nearest_vectors(self.collection, self.dim, embedding, n, langs)

    def get_vectors(self, ids: Sequence[str]) -> tuple[list[str], np.ndarray, list[str]]:
        """``(ids, vectors, langs)`` of those of ``ids`` that are stored (for keeping statistics exact)."""
        return rows.get_vectors(self.collection, self.dim, ids)

    def iter_vectors(self, batch_size: int = 2000, lang: str | None = None) -> Iterator[tuple[np.ndarray, list[str]]]:
        """Every stored vector with its language, in pages of ``batch_size`` (optionally one language only)."""
        return rows.iter_vectors(self.collection, self.dim, batch_size, lang)

    def get(self, ids: Sequence[str]) -> dict[str, ScoredCandidate]:
        """Stored passages by id (score 0); missing ids are absent from the result.

        A store that keeps texts (:attr:`keep_texts`) answers from the copy loaded with its matrix.
        """
        out: dict[str, ScoredCandidate] = {}
        held = self._texts if self._matrix is not None else None
        if held is not None:
            for pid in ids:
                row = held.get(pid)
                if row is not None:
                    out[pid] = rows.candidate(pid, row[0], row[1], 0.0)
            ids = [pid for pid in ids if pid not in out]
            if not ids:
                return out
        out.update(rows.get_candidates(self.collection, ids))
        return out

    def iter_passages(self, batch_size: int = 5000) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every stored ``(id, text, metadata)``, in pages (for rebuilding BM25)."""
        return rows.iter_passages(self.collection, batch_size)


__all__ = ["DEFAULT_COLLECTION", "ChromaStore", "forget_embedded"]

"""Chroma as the vector store: embedded and persistent by default, or a server by URL.

Chroma never embeds anything itself here: its default embedding function
downloads a model, so every collection is opened with
``embedding_function=None`` and we always pass vectors. Telemetry is off.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from clir_rag.errors import (
    ClirRagError,
    IndexCompatibilityError,
    IndexCorruptError,
    IndexReadOnlyError,
    InputError,
    StoreUnavailableError,
)
from clir_rag.store.matrix import DEFAULT_EXACT_LIMIT, VectorMatrix
from clir_rag.types import Passage, ScoredCandidate

DEFAULT_COLLECTION = "clir_passages"
log = logging.getLogger("clir_rag")
# Chroma's SQLite layer limits the number of variables per statement.
_GET_BATCH = 2000
# Above the exact-search limit Chroma's HNSW answers; wider search lists than Chroma's defaults (100)
# keep its recall near exact at the sizes clir-rag is used at.
_HNSW = {"space": "cosine", "ef_construction": 200, "ef_search": 200}


def _client(path: str | Path | None, url: str | None, *, create: bool = True) -> Any:
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if url:
        parsed = urlparse(url if "://" in url else f"http://{url}")
        if not parsed.hostname:
            raise InputError(f"cannot read a host from Chroma URL {url!r}")
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
        try:
            return chromadb.HttpClient(host=parsed.hostname, port=port, ssl=parsed.scheme == "https", settings=settings)
        except Exception as e:  # chromadb raises ValueError or its transport's errors for a server it cannot reach
            raise StoreUnavailableError(f"cannot reach the Chroma server at {url}: {e}") from None
    if path is None:
        raise InputError("give a directory (embedded Chroma) or a URL (Chroma server)")
    path = Path(path)
    if not create and not (path / "chroma.sqlite3").is_file():
        raise IndexCorruptError(f"{path}: the vector store is missing (no chroma.sqlite3)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except Exception as e:
        raise StoreUnavailableError(f"cannot open the Chroma store in {path}: {type(e).__name__}: {e}") from None


def _writable(path: Path) -> bool:
    """Whether files can be created in ``path`` (a read-only mount refuses root too, unlike permissions)."""
    if not os.access(path, os.W_OK):
        return False
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=".clir-rag-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


class _Embedded:
    """This process's one Chroma client for a store directory, reopened when another process changed it.

    Embedded Chroma keeps segment state in memory and caches one client per path in a
    process; a client opened before another process wrote keeps answering from what it loaded
    ("Error finding id"), and so does every later client on that path while it lives. So all
    our stores on a directory share this entry's client, and :meth:`reopen` closes it (Chroma
    stops its system once no client holds it) and opens a fresh one, after the calls in
    flight have finished. A read-only directory is searched from a temporary copy, made once
    per state of the source and removed when replaced or at exit.
    """

    def __init__(self, source: Path) -> None:
        self.source = source
        self.read_only = False
        self.epoch = 0
        self.seen: object = None  # the state (index manifest stamp) this client was opened on
        self._copy: str | None = None
        self._cond = threading.Condition()
        self._users = 0
        self._reopening = False
        self.client = self._open()

    def _open(self) -> Any:
        path = self.source
        if path.is_dir() and not _writable(path):
            # Chroma writes to its SQLite file even to read it; a read-only copy serves searches.
            self._copy = tempfile.mkdtemp(prefix="clir-rag-readonly-")
            shutil.copytree(path, Path(self._copy) / "chroma")
            path, self.read_only = Path(self._copy) / "chroma", True
        return _client(path, None)

    @contextmanager
    def using(self) -> Iterator[Any]:
        """The client, held open for one call (a reopen waits for the calls in flight)."""
        with self._cond:
            while self._reopening:
                self._cond.wait()
            self._users += 1
        try:
            yield self.client
        finally:
            with self._cond:
                self._users -= 1
                self._cond.notify_all()

    def reopen(self, seen: object) -> None:
        """Open a fresh client on the directory as it is now (once per ``seen`` state)."""
        with self._cond:
            if self._reopening or seen == self.seen:
                return  # another thread does it (or did it) for this state
            self._reopening = True
            while self._users:
                self._cond.wait()
        try:
            self.close()
            self.client = self._open()
            self.epoch += 1
            self.seen = seen
        finally:
            with self._cond:
                self._reopening = False
                self._cond.notify_all()

    def close(self) -> None:
        """Close the client and remove a read-only copy."""
        try:
            self.client.close()
        except Exception as e:  # already closed, or its files are gone: nothing left to release
            log.debug("closing the Chroma client of %s: %s", self.source, e)
        if self._copy:
            shutil.rmtree(self._copy, ignore_errors=True)
            self._copy = None


_EMBEDDED: dict[str, _Embedded] = {}
_EMBEDDED_LOCK = threading.Lock()


def _embedded(path: Path, *, create: bool, seen: object = None) -> _Embedded:
    if not create and not (path / "chroma.sqlite3").is_file():
        raise IndexCorruptError(f"{path}: the vector store is missing (no chroma.sqlite3)")
    key = str(path.resolve())
    with _EMBEDDED_LOCK:
        entry = _EMBEDDED.get(key)
        if entry is None:
            entry = _EMBEDDED[key] = _Embedded(path)
            entry.seen = seen
        return entry


def forget_embedded(path: str | Path) -> None:
    """Close this process's client on ``path`` (before the directory is removed or replaced)."""
    with _EMBEDDED_LOCK:
        entry = _EMBEDDED.pop(str(Path(path).resolve()), None)
    if entry is not None:
        entry.close()


@atexit.register
def _remove_copies() -> None:
    for entry in list(_EMBEDDED.values()):
        if entry._copy:
            shutil.rmtree(entry._copy, ignore_errors=True)


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
        self._embedded: _Embedded | None = None
        if url:
            self.client = _client(None, url)
            self.read_only = False
        elif path is None:
            raise InputError("give a directory (embedded Chroma) or a URL (Chroma server)")
        else:
            self._embedded = _embedded(Path(path), create=create, seen=seen)
            self.client = self._embedded.client
            self.read_only = self._embedded.read_only
        self._epoch = self._embedded.epoch if self._embedded else 0
        self._matrix_lock = threading.Lock()
        self.exact_limit = exact_limit
        self._freshness = freshness
        self._matrix: VectorMatrix | None = None
        # texts and metadata loaded with the matrix, for a reader's fixed state (see keep_texts)
        self._texts: dict[str, tuple[str, dict[str, Any]]] | None = None
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
        ids: list[str] = []
        doc_ids: list[str] = []
        langs: list[str] = []
        index: list[int] = []
        chunks: list[np.ndarray] = []
        texts: dict[str, tuple[str, dict[str, Any]]] | None = {} if self.keep_texts else None
        offset = 0
        while True:
            include = ["embeddings", "metadatas", "documents"] if self.keep_texts else ["embeddings", "metadatas"]
            got = self.collection.get(include=include, limit=_GET_BATCH, offset=offset)
            if not got["ids"]:
                break
            metas = [m or {} for m in got["metadatas"] or []]
            if texts is not None:
                texts.update(zip(got["ids"], zip(got["documents"] or [], metas, strict=True), strict=True))
            ids.extend(got["ids"])
            doc_ids.extend(str(m.get("doc_id", pid)) for pid, m in zip(got["ids"], metas, strict=True))
            langs.extend(str(m.get("lang", "und")) for m in metas)
            index.extend(int(m.get("index", 0)) for m in metas)
            chunks.append(np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), self.dim))
            offset += len(got["ids"])
        vectors = np.concatenate(chunks) if chunks else np.zeros((0, self.dim), dtype=np.float32)
        self._texts = texts
        return VectorMatrix.from_rows(ids, doc_ids, langs, index, vectors, version=version)

    def stored_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """``{passage id: doc hash}`` for those of ``ids`` already stored."""
        found: dict[str, str] = {}
        for i in range(0, len(ids), _GET_BATCH):
            got = self.collection.get(ids=list(ids[i : i + _GET_BATCH]), include=["metadatas"])
            for pid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
                found[pid] = (meta or {}).get("doc_hash", "")
        return found

    def stored_documents(self, doc_ids: Sequence[str]) -> dict[str, tuple[str, int]]:
        """``{doc id: (content hash, passages)}`` for those of ``doc_ids`` stored whole.

        Whole means: every passage the document was cut into is stored, all with the same hash
        (passages record their document's passage count). A document half-written by an
        interrupted run, or indexed before passages recorded the count, is left out, so it is
        chunked again and its missing passages found.
        """
        seen: dict[str, list[tuple[str, int, int]]] = {}
        for i in range(0, len(doc_ids), _GET_BATCH):
            got = self.collection.get(
                where={"doc_id": {"$in": list(doc_ids[i : i + _GET_BATCH])}}, include=["metadatas"]
            )
            for meta in got["metadatas"] or []:
                m = meta or {}
                seen.setdefault(str(m.get("doc_id")), []).append(
                    (str(m.get("doc_hash", "")), int(m.get("passages", -1)), int(m.get("index", -1)))
                )
        whole: dict[str, tuple[str, int]] = {}
        for doc_id, rows in seen.items():
            hashes = {h for h, _, _ in rows}
            counts = {n for _, n, _ in rows}
            if len(hashes) == 1 and len(counts) == 1:
                n = counts.pop()
                if n == len(rows) and sorted(x for _, _, x in rows) == list(range(n)):
                    whole[doc_id] = (hashes.pop(), n)
        return whole

    def passage_ids_of(self, doc_ids: Sequence[str]) -> list[str]:
        """The ids of every stored passage of the documents ``doc_ids``."""
        out: list[str] = []
        for i in range(0, len(doc_ids), _GET_BATCH):
            got = self.collection.get(where={"doc_id": {"$in": list(doc_ids[i : i + _GET_BATCH])}}, include=[])
            out.extend(got["ids"])
        return out

    def delete(self, ids: Sequence[str]) -> None:
        """Remove the passages ``ids`` (ids not stored are ignored)."""
        self._writable()
        self._changed()
        for i in range(0, len(ids), _GET_BATCH):
            self.collection.delete(ids=list(ids[i : i + _GET_BATCH]))

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
            metadatas=[_metadata(p, h, n) for p, h, n in zip(passages, doc_hashes, counts, strict=True)],
        )

    def query(self, embedding: np.ndarray, n: int, langs: Sequence[str] | None = None) -> list[ScoredCandidate]:
        """The ``n`` nearest passages to ``embedding`` by cosine, in documents of ``langs`` (None: all)."""
        total = self.count()
        if total == 0 or n <= 0:
            return []
        where = {"lang": {"$in": list(langs)}} if langs else None
        res = self.collection.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32)],
            n_results=min(n, total),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            # cosine distance in [0, 2] -> similarity in [-1, 1]
            _candidate(pid, doc, meta, 1.0 - float(dist))
            for pid, doc, meta, dist in zip(
                res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
            )
        ]

    def nearest_vectors(
        self, embedding: np.ndarray, n: int, langs: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ids, stored vectors and languages of the ``n`` nearest passages (optionally in ``langs``), nearest first.

        No texts travel: the debiased retriever rescores these exactly (rather than trusting
        Chroma's float32 distances) and fetches texts for its final top k alone.
        """
        one = langs is not None and len(langs) == 1
        where: dict[str, Any] | None = None
        if one:
            where = {"lang": langs[0]}  # type: ignore[index]
        elif langs:
            where = {"lang": {"$in": list(langs)}}
        res = self.collection.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32)],
            n_results=max(1, n),
            where=where,
            include=["embeddings"] if one else ["embeddings", "metadatas"],  # metadata costs as much again
        )
        ids = np.asarray(res["ids"][0], dtype=object)
        emb = res["embeddings"][0] if res.get("embeddings") is not None else []
        if one:
            langs_out = np.full(len(ids), langs[0], dtype=object)  # type: ignore[index]
        else:
            langs_out = np.asarray([(m or {}).get("lang", "und") for m in res["metadatas"][0]], dtype=object)
        return ids, np.asarray(emb, dtype=np.float64).reshape(len(ids), self.dim), langs_out

    def get_vectors(self, ids: Sequence[str]) -> tuple[list[str], np.ndarray, list[str]]:
        """``(ids, vectors, langs)`` of those of ``ids`` that are stored (for keeping statistics exact)."""
        out_ids: list[str] = []
        out_langs: list[str] = []
        chunks: list[np.ndarray] = []
        for i in range(0, len(ids), _GET_BATCH):
            got = self.collection.get(ids=list(ids[i : i + _GET_BATCH]), include=["embeddings", "metadatas"])
            if not got["ids"]:
                continue
            out_ids.extend(got["ids"])
            out_langs.extend((m or {}).get("lang", "und") for m in got["metadatas"] or [])
            chunks.append(np.asarray(got["embeddings"], dtype=np.float64).reshape(len(got["ids"]), self.dim))
        vectors = np.concatenate(chunks) if chunks else np.zeros((0, self.dim))
        return out_ids, vectors, out_langs

    def iter_vectors(self, batch_size: int = 2000, lang: str | None = None) -> Iterator[tuple[np.ndarray, list[str]]]:
        """Every stored vector with its language, in pages of ``batch_size`` (optionally one language only)."""
        offset = 0
        where = {"lang": lang} if lang else None
        while True:
            got = self.collection.get(include=["embeddings", "metadatas"], where=where, limit=batch_size, offset=offset)
            if not got["ids"]:
                return
            langs = [(m or {}).get("lang", "und") for m in got["metadatas"] or []]
            yield np.asarray(got["embeddings"], dtype=np.float64).reshape(len(got["ids"]), self.dim), langs
            offset += len(got["ids"])

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
                    out[pid] = _candidate(pid, row[0], row[1], 0.0)
            ids = [pid for pid in ids if pid not in out]
            if not ids:
                return out
        for i in range(0, len(ids), _GET_BATCH):
            got = self.collection.get(ids=list(ids[i : i + _GET_BATCH]), include=["documents", "metadatas"])
            for pid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                out[pid] = _candidate(pid, doc, meta, 0.0)
        return out

    def iter_passages(self, batch_size: int = 5000) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every stored ``(id, text, metadata)``, in pages (for rebuilding BM25)."""
        offset = 0
        while True:
            got = self.collection.get(include=["documents", "metadatas"], limit=batch_size, offset=offset)
            if not got["ids"]:
                return
            yield from zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            offset += len(got["ids"])


def _metadata(p: Passage, doc_hash: str, doc_passages: int | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": p.doc_id,
        "lang": p.lang,
        "index": p.index,
        "start": p.start,
        "end": p.end,
        "doc_hash": doc_hash,
    }
    if doc_passages is not None:
        meta["passages"] = doc_passages
    if p.title:
        meta["title"] = p.title
    if p.metadata:
        meta["extra"] = json.dumps(p.metadata, ensure_ascii=False, default=str)
    return meta


def _candidate(pid: str, text: str | None, meta: dict[str, Any] | None, score: float) -> ScoredCandidate:
    meta = dict(meta or {})
    extra = json.loads(meta.pop("extra", "{}"))
    return ScoredCandidate(
        id=pid,
        doc_id=meta.pop("doc_id", pid),
        score=score,
        text=text or "",
        lang=meta.pop("lang", None),
        title=meta.pop("title", None),
        metadata={**extra, "passage_index": meta.get("index", 0), "start": meta.get("start"), "end": meta.get("end")},
    )

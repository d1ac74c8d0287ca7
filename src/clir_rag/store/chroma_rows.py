"""Rows of a Chroma collection in clir-rag's terms: passages to metadata and back, read in batches.

Every function takes the collection (:class:`~clir_rag.store.chroma.ChromaStore`'s guarded
one, so Chroma's errors arrive as clir-rag errors) and, where vectors are read, their
dimension. Reads by id go in batches of :data:`GET_BATCH`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from clir_rag.store.matrix import VectorMatrix
from clir_rag.types import Passage, ScoredCandidate

# Chroma's SQLite layer limits the number of variables per statement.
GET_BATCH = 2000

#: Passage texts and metadata by passage id, as loaded with a matrix.
Texts = dict[str, tuple[str, dict[str, Any]]]


def passage_metadata(p: Passage, doc_hash: str, doc_passages: int | None = None) -> dict[str, Any]:
    """The Chroma metadata stored with passage ``p`` (its document's content hash and passage count too)."""
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


def candidate(pid: str, text: str | None, meta: dict[str, Any] | None, score: float) -> ScoredCandidate:
    """A stored row as a :class:`~clir_rag.types.ScoredCandidate` with ``score``."""
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


def read_matrix(collection: Any, dim: int, version: object, *, keep_texts: bool) -> tuple[VectorMatrix, Texts | None]:
    """Every stored vector as a :class:`VectorMatrix` at ``version``, with the texts when ``keep_texts``."""
    ids: list[str] = []
    doc_ids: list[str] = []
    langs: list[str] = []
    index: list[int] = []
    chunks: list[np.ndarray] = []
    texts: Texts | None = {} if keep_texts else None
    offset = 0
    while True:
        include = ["embeddings", "metadatas", "documents"] if keep_texts else ["embeddings", "metadatas"]
        got = collection.get(include=include, limit=GET_BATCH, offset=offset)
        if not got["ids"]:
            break
        metas = [m or {} for m in got["metadatas"] or []]
        if texts is not None:
            texts.update(zip(got["ids"], zip(got["documents"] or [], metas, strict=True), strict=True))
        ids.extend(got["ids"])
        doc_ids.extend(str(m.get("doc_id", pid)) for pid, m in zip(got["ids"], metas, strict=True))
        langs.extend(str(m.get("lang", "und")) for m in metas)
        index.extend(int(m.get("index", 0)) for m in metas)
        chunks.append(np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), dim))
        offset += len(got["ids"])
    vectors = np.concatenate(chunks) if chunks else np.zeros((0, dim), dtype=np.float32)
    return VectorMatrix.from_rows(ids, doc_ids, langs, index, vectors, version=version), texts


def stored_hashes(collection: Any, ids: Sequence[str]) -> dict[str, str]:
    """``{passage id: doc hash}`` for those of ``ids`` already stored."""
    found: dict[str, str] = {}
    for i in range(0, len(ids), GET_BATCH):
        got = collection.get(ids=list(ids[i : i + GET_BATCH]), include=["metadatas"])
        for pid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
            found[pid] = (meta or {}).get("doc_hash", "")
    return found


def stored_documents(collection: Any, doc_ids: Sequence[str]) -> dict[str, tuple[str, int]]:
    """``{doc id: (content hash, passages)}`` for those of ``doc_ids`` stored whole (see ChromaStore)."""
    seen: dict[str, list[tuple[str, int, int]]] = {}
    for i in range(0, len(doc_ids), GET_BATCH):
        got = collection.get(where={"doc_id": {"$in": list(doc_ids[i : i + GET_BATCH])}}, include=["metadatas"])
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


def passage_ids_of(collection: Any, doc_ids: Sequence[str]) -> list[str]:
    """The ids of every stored passage of the documents ``doc_ids``."""
    out: list[str] = []
    for i in range(0, len(doc_ids), GET_BATCH):
        got = collection.get(where={"doc_id": {"$in": list(doc_ids[i : i + GET_BATCH])}}, include=[])
        out.extend(got["ids"])
    return out


def query(
    collection: Any, embedding: np.ndarray, n: int, langs: Sequence[str] | None, total: int
) -> list[ScoredCandidate]:
    """The ``n`` nearest of ``total`` stored passages to ``embedding`` by cosine, in ``langs`` (None: all)."""
    if total == 0 or n <= 0:
        return []
    where = {"lang": {"$in": list(langs)}} if langs else None
    res = collection.query(
        query_embeddings=[np.asarray(embedding, dtype=np.float32)],
        n_results=min(n, total),
        where=where,
        include=["documents", "metadatas", "distances"],
    )
    return [
        # cosine distance in [0, 2] -> similarity in [-1, 1]
        candidate(pid, doc, meta, 1.0 - float(dist))
        for pid, doc, meta, dist in zip(
            res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
        )
    ]


def nearest_vectors(
    collection: Any, dim: int, embedding: np.ndarray, n: int, langs: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ids, stored vectors and languages of the ``n`` nearest passages (optionally in ``langs``), nearest first."""
    one = langs is not None and len(langs) == 1
    where: dict[str, Any] | None = None
    if one:
        where = {"lang": langs[0]}  # type: ignore[index]
    elif langs:
        where = {"lang": {"$in": list(langs)}}
    res = collection.query(
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
    return ids, np.asarray(emb, dtype=np.float64).reshape(len(ids), dim), langs_out


def get_vectors(collection: Any, dim: int, ids: Sequence[str]) -> tuple[list[str], np.ndarray, list[str]]:
    """``(ids, vectors, langs)`` of those of ``ids`` that are stored."""
    out_ids: list[str] = []
    out_langs: list[str] = []
    chunks: list[np.ndarray] = []
    for i in range(0, len(ids), GET_BATCH):
        got = collection.get(ids=list(ids[i : i + GET_BATCH]), include=["embeddings", "metadatas"])
        if not got["ids"]:
            continue
        out_ids.extend(got["ids"])
        out_langs.extend((m or {}).get("lang", "und") for m in got["metadatas"] or [])
        chunks.append(np.asarray(got["embeddings"], dtype=np.float64).reshape(len(got["ids"]), dim))
    vectors = np.concatenate(chunks) if chunks else np.zeros((0, dim))
    return out_ids, vectors, out_langs


def iter_vectors(
    collection: Any, dim: int, batch_size: int, lang: str | None
) -> Iterator[tuple[np.ndarray, list[str]]]:
    """Every stored vector with its language, in pages of ``batch_size`` (optionally one language only)."""
    offset = 0
    where = {"lang": lang} if lang else None
    while True:
        got = collection.get(include=["embeddings", "metadatas"], where=where, limit=batch_size, offset=offset)
        if not got["ids"]:
            return
        langs = [(m or {}).get("lang", "und") for m in got["metadatas"] or []]
        yield np.asarray(got["embeddings"], dtype=np.float64).reshape(len(got["ids"]), dim), langs
        offset += len(got["ids"])


def get_candidates(collection: Any, ids: Sequence[str]) -> dict[str, ScoredCandidate]:
    """Stored passages by id (score 0), read from the collection; missing ids are absent."""
    out: dict[str, ScoredCandidate] = {}
    for i in range(0, len(ids), GET_BATCH):
        got = collection.get(ids=list(ids[i : i + GET_BATCH]), include=["documents", "metadatas"])
        for pid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            out[pid] = candidate(pid, doc, meta, 0.0)
    return out


def iter_passages(collection: Any, batch_size: int) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every stored ``(id, text, metadata)``, in pages of ``batch_size``."""
    offset = 0
    while True:
        got = collection.get(include=["documents", "metadatas"], limit=batch_size, offset=offset)
        if not got["ids"]:
            return
        yield from zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        offset += len(got["ids"])

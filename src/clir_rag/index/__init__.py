"""A cross-lingual index in one directory: passages in Chroma, BM25 and language statistics beside them.

:class:`CrossLingualIndex` opens (or creates) an index directory; its layout is in
:mod:`clir_rag.index.layout`. Reading: searching in :mod:`clir_rag.index.reader`, following
every write (here or in another process) in :mod:`clir_rag.index.snapshot`, the language
statistics searches see in :mod:`clir_rag.index.stats_view`. Writing, one writer at a time:
adding and deleting documents (idempotent and resumable by document id) in
:mod:`clir_rag.index.writer`, the lock and manifest in :mod:`clir_rag.index.writer_base`,
statistics and BM25 in :mod:`clir_rag.index.derived`, query means in
:mod:`clir_rag.index.query_means`.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from typing_extensions import TypeIs

from clir_rag.chunk import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_MAX_WORDS,
    DEFAULT_OVERLAP,
    DEFAULT_WORD_OVERLAP,
    PASSAGE_UNITS,
    PassageUnit,
)
from clir_rag.deprecation import renamed
from clir_rag.embed import DEFAULT_ENCODER, Encoder, load_encoder
from clir_rag.embed.base import Chunking
from clir_rag.errors import IndexCompatibilityError, InputError
from clir_rag.index.layout import IndexLayout, check_collection_name, check_title_format, index_text
from clir_rag.index.reader import DebiasOption, FollowingRetriever, IndexReader, Mode, Snapshot
from clir_rag.index.writer import DEFAULT_SHARD_PASSAGES, AddReport, IndexWriter
from clir_rag.lock import WriterLock
from clir_rag.manifest import DEFAULT_TITLE_FORMAT, MANIFEST, BM25Params, IndexManifest, TitleFormat
from clir_rag.store.bm25 import DEFAULT_B, DEFAULT_K1
from clir_rag.store.chroma import DEFAULT_COLLECTION
from clir_rag.store.matrix import DEFAULT_EXACT_LIMIT

__all__ = [
    "DEFAULT_SHARD_PASSAGES",
    "MANIFEST",
    "AddReport",
    "CrossLingualIndex",
    "DebiasOption",
    "FollowingRetriever",
    "IndexReader",
    "IndexWriter",
    "Mode",
    "Snapshot",
    "index_text",
]


class CrossLingualIndex(IndexWriter):
    """Open or create an index directory.

    ``encoder`` is an :class:`~clir_rag.embed.Encoder` or a spec string; for an
    existing index it defaults to the one recorded in its manifest, and a
    different one raises :class:`~clir_rag.errors.IndexCompatibilityError`.
    ``chroma_url`` keeps vectors in a Chroma server instead of ``path/chroma``; each index
    gets a collection of its own there, named from the index's id (or ``collection``), and a
    collection recorded for another index is refused.
    ``title_format`` says how a title joins its passage's text (:func:`index_text`); like the
    chunking it is fixed when the index is created. Passages are ``max_tokens`` long with
    ``overlap`` shared, counted in ``passage_unit``: ``"tokens"`` (the default, 256/32) or
    ``"words"`` (default 120/20, capped at what the encoder reads), the better setting for
    document-level MaxP over long documents (evals/document_windows.md). Up to ``exact_limit`` passages, dense
    search scores every passage in memory (exact and reproducible; :mod:`clir_rag.store.matrix`).

    Nothing is written until the first :meth:`add`, and only after its documents were checked.
    Opening an existing index checks its stores against the manifest (counts, not a scan): a
    deleted or emptied vector store is an :class:`~clir_rag.errors.IndexCorruptError` that says
    how to rebuild, never an empty result; a damaged BM25 is rebuilt from the vector store.
    One process writes at a time (:mod:`clir_rag.lock`); ``wait`` is how long a writer waits
    for another to finish (0: fail at once with :class:`~clir_rag.errors.IndexLockedError`;
    None: as long as it takes). Readers never wait.

    Searches follow writes, from this process or another (one writer, many readers): each
    query runs on the latest committed state, and a search during a write answers from the
    state before it (:mod:`clir_rag.index.reader`). The reading and writing halves live in
    :class:`~clir_rag.index.reader.IndexReader` and :class:`~clir_rag.index.writer.IndexWriter`;
    this class opens the directory and holds both.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        encoder: Encoder | str | None = None,
        max_tokens: int | None = None,
        overlap: int | None = None,
        passage_unit: PassageUnit | None = None,
        chroma_url: str | None = None,
        collection: str | None = None,
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
        title_format: TitleFormat | None = None,
        exact_limit: int = DEFAULT_EXACT_LIMIT,
        wait: float | None = 0.0,
    ) -> None:
        self.path = Path(path)
        self.layout = IndexLayout(self.path)
        if self.path.exists() and not self.path.is_dir():
            raise IndexCompatibilityError(f"{self.path} is a file, not an index directory")
        manifest = self.layout.read_manifest()
        if manifest is None:
            self.encoder = encoder if _is_encoder(encoder) else load_encoder(encoder or DEFAULT_ENCODER)
            index_id = uuid.uuid4().hex
            if collection is None:  # on a shared server every index needs a collection of its own
                collection = f"clir_{index_id[:16]}" if chroma_url else DEFAULT_COLLECTION
            check_collection_name(collection)
            words = passage_unit == "words"
            manifest = IndexManifest(
                index_id=index_id,
                encoder=self.encoder.spec,
                model=getattr(self.encoder, "model_name", self.encoder.spec),
                dim=self.encoder.dim,
                max_tokens=max_tokens or (DEFAULT_MAX_WORDS if words else DEFAULT_MAX_TOKENS),
                overlap=overlap if overlap is not None else (DEFAULT_WORD_OVERLAP if words else DEFAULT_OVERLAP),
                passage_unit=_check_passage_unit(passage_unit or "tokens"),
                title_format=check_title_format(title_format or DEFAULT_TITLE_FORMAT),
                chroma_url=chroma_url,
                collection=collection,
                bm25=BM25Params(k1=k1, b=b),
            )
        else:
            self._check_compatible(manifest, encoder, max_tokens, overlap, passage_unit, title_format)
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
        self.chunker = Chunking(
            manifest.max_tokens, manifest.overlap, manifest.title_format, manifest.passage_unit
        ).chunker(self.encoder)
        limit = getattr(self.encoder, "max_input_tokens", None)
        # word windows are held to the limit by the chunker itself
        too_long = manifest.passage_unit == "tokens" and limit is not None and manifest.max_tokens > limit
        if too_long and not self.layout.exists():
            raise InputError(
                f"passages of {manifest.max_tokens} tokens are longer than encoder {self.encoder.spec!r} reads "
                f"({limit} tokens): their ends would be dropped silently; use max_tokens <= {limit}"
            )
        self.title_format: str = manifest.title_format
        self._chroma_url = chroma_url or manifest.chroma_url
        self._exact_limit = exact_limit
        self._lock = WriterLock(self.path, wait=wait)
        self._init_reader()
        self._init_writer()

    def _check_compatible(
        self,
        manifest: IndexManifest,
        encoder: Encoder | str | None,
        max_tokens: int | None,
        overlap: int | None,
        passage_unit: str | None,
        title_format: str | None,
    ) -> None:
        spec = encoder.spec if _is_encoder(encoder) else encoder
        if spec is not None and spec != manifest.encoder:
            raise IndexCompatibilityError(
                f"{self.path} was built with encoder {manifest.encoder!r} ({manifest.dim} dims), "
                f"not {spec!r}: search it with its own encoder or index into a new directory"
            )
        settings = (
            ("max_tokens", max_tokens),
            ("overlap", overlap),
            ("passage_unit", passage_unit),
            ("title_format", title_format),
        )
        for name, value in settings:
            if value is not None and value != getattr(manifest, name):
                raise IndexCompatibilityError(
                    f"{self.path} was built with {name}={getattr(manifest, name)}, not {value}: "
                    "index into a new directory to change chunking"
                )


def _check_passage_unit(value: str) -> PassageUnit:
    if value not in PASSAGE_UNITS:
        raise InputError(f"unknown passage unit {value!r}: use {', '.join(PASSAGE_UNITS)}")
    return value  # type: ignore[return-value]


def _is_encoder(obj: object) -> TypeIs[Encoder]:
    return obj is not None and not isinstance(obj, str)


_RENAMED = {"IndexStats": "clir_rag.index.writer.AddReport"}  # kept for one release


def __getattr__(name: str) -> Any:
    return renamed(__name__, name, _RENAMED)

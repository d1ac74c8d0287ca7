"""One index directory on disk, as readers and writers both see it.

Layout::

    clir-rag.json   manifest: encoder, dimension, chunking, BM25 parameters, passage count; the commit point
    chroma/         embedded Chroma (absent when Chroma runs as a server)
    bm25/           per-language BM25 sub-indexes, rebuilt from Chroma after each run
    stats.npz       per-language passage statistics for dense debiasing, kept exact by every run
    query-stats.npz per-language query means (calibration queries, optionally served queries)
    .lock           the writer lock (:mod:`clir_rag.lock`)

A writer changes Chroma, ``stats.npz`` and ``bm25/`` (each replaced atomically) and then the
manifest; before it touches Chroma it rewrites the manifest with the stale marks set. So a
manifest without stale marks describes a committed state, and a reader that loaded
everything between two identical manifest stamps loaded one state, not a mix.
``query-stats.npz`` is small and has a stamp of its own: calibrating does not make readers
reload passages.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

from clir_rag.errors import IndexCompatibilityError, IndexReadOnlyError, InputError
from clir_rag.languages import detect_language
from clir_rag.lock import LOCK_FILE
from clir_rag.manifest import (
    DEFAULT_TITLE_FORMAT,
    MANIFEST,
    TITLE_FORMATS,
    IndexManifest,
    read_manifest,
    write_manifest,
)
from clir_rag.store.stats import QUERY_STATS_FILE, STATS_FILE
from clir_rag.types import Document

READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)
BM25_DIR = "bm25"
CHROMA_DIR = "chroma"


def file_stamp(file: Path) -> object:
    """Changes whenever ``file`` is replaced or rewritten (None while it does not exist)."""
    try:
        st = file.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class IndexLayout:
    """The files of one index directory: where each lives, their stamps, and the manifest's reading and writing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.manifest_file = path / MANIFEST
        self.bm25_dir = path / BM25_DIR
        self.chroma_dir = path / CHROMA_DIR
        self.stats_file = path / STATS_FILE
        self.query_stats_file = path / QUERY_STATS_FILE

    def stamp(self) -> object:
        """The manifest's stamp: changes whenever a writer (here or in another process) rewrites it."""
        return file_stamp(self.manifest_file)

    def query_stamp(self) -> object:
        """The stamp of the query means (calibration, served queries)."""
        return file_stamp(self.query_stats_file)

    def exists(self) -> bool:
        """Whether the index has been written (its manifest exists)."""
        return self.manifest_file.exists()

    def read_manifest(self) -> IndexManifest | None:
        """The manifest; None for a new (empty or missing) directory, an error for a foreign non-empty one."""
        if not self.manifest_file.exists():
            if self.path.exists() and any(f.name != LOCK_FILE for f in self.path.iterdir()):
                raise IndexCompatibilityError(
                    f"{self.path} is not empty and holds no {MANIFEST}: not a clir-rag index "
                    "(give an empty or new directory)"
                )
            return None
        return read_manifest(self.manifest_file)

    def write_manifest(self, manifest: IndexManifest) -> object:
        """Write the manifest atomically; returns its new stamp."""
        try:
            write_manifest(manifest, self.manifest_file)
        except OSError as e:
            if e.errno not in READ_ONLY_ERRNOS:
                raise
            raise IndexReadOnlyError(f"{self.path} is read-only: it can be searched, not written") from None
        return self.stamp()


def with_language(doc: Document) -> Document:
    """``doc`` with its language detected where it has none (an :class:`InputError` where none can be told)."""
    if doc.lang is not None:
        return doc
    lang = detect_language(doc.text or doc.title or "")
    if lang is None:
        raise InputError(f"document {doc.id!r}: no 'lang' given and its language cannot be detected")
    return doc.model_copy(update={"lang": lang, "metadata": {**doc.metadata, "lang_detected": True}})


def check_title_format(value: str) -> str:
    """``value`` if it is a known title format, else an :class:`InputError`."""
    if value not in TITLE_FORMATS:
        raise InputError(f"unknown title format {value!r}: use {', '.join(TITLE_FORMATS)}")
    return value


def check_collection_name(name: str) -> None:
    """Chroma's rule for collection names, checked before anything is written rather than by the server mid-run."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]", name) or ".." in name:
        raise InputError(
            f"collection name {name!r}: use 3-63 letters, digits, '.', '_' or '-', starting and ending alphanumeric"
        )


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

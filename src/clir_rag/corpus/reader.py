"""Corpus readers: JSONL records or a folder of ``.txt`` files.

JSONL records need ``id`` (``docid`` and ``_id`` are accepted, as CIRAL and
BEIR spell it) and ``text``; ``lang`` and ``title`` are optional; other
fields are kept as metadata. In a folder, each ``.txt`` file is a document
whose id is its path relative to the folder without the suffix; a first
folder level named by a language code (``corpus/de/a.txt``) gives the language.

Reading validates everything before anything is indexed: a bad record raises
:class:`~clir_rag.errors.CorpusError` naming the file, line and id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clir_rag.errors import CorpusError, describe_validation
from clir_rag.languages import detect_language, is_known_language, normalize_language
from clir_rag.types import Document

_ID_KEYS = ("id", "docid", "_id", "doc_id")


def _make_document(where: str, fields: dict[str, Any], default_lang: str | None, detect: bool = False) -> Document:
    doc_id = fields.get("id")
    label = f"{where} (id={doc_id!r})" if doc_id not in (None, "") else where
    if fields.get("lang") is None and default_lang is not None:
        fields["lang"] = default_lang
    try:
        doc = Document(**fields)
    except ValidationError as e:
        raise CorpusError(f"{label}: {describe_validation(e)}") from None
    if detect and doc.lang is None:
        found = detect_language(doc.text or doc.title or "")
        if found is None:
            raise CorpusError(f"{label}: no 'lang' given and its language cannot be detected (give lang or --lang)")
        doc = doc.model_copy(update={"lang": found, "metadata": {**doc.metadata, "lang_detected": True}})
    return doc


def json_record(line: str, where: str) -> tuple[str, dict[str, Any]]:
    """One JSONL line as (document id, the record's other fields), or a CorpusError naming ``where``.

    The id comes from the first of ``id``, ``docid``, ``_id``, ``doc_id`` present; the record must
    have a ``text`` field (what it holds is for the caller to judge).
    """
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise CorpusError(f"{where}: not a JSON object ({e.msg} at column {e.colno})") from None
    return _split_record(record, where)


def _split_record(record: object, where: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: expected a JSON object, got {type(record).__name__}")
    key = next((k for k in _ID_KEYS if k in record), None)
    if key is None:
        raise CorpusError(f"{where}: record has no id (expected one of {', '.join(_ID_KEYS)})")
    raw_id = record.pop(key)
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        raise CorpusError(f"{where}: record id must be a string or an integer, got {raw_id!r}")
    doc_id = str(raw_id).strip()
    if "text" not in record:
        raise CorpusError(f"{where} (id={doc_id!r}): record has no 'text' field")
    return doc_id, record


def record_document(record: object, where: str, *, lang: str | None = None, detect: bool = False) -> Document:
    """One corpus record (a JSONL line's object, parsed) as a :class:`Document`, checked as the CLI checks it.

    Fields as in a JSONL corpus (see the module docstring); ``lang`` is the language of a record that gives
    none, and ``detect`` detects it here. A bad record is a :class:`~clir_rag.errors.CorpusError` of one line
    naming ``where`` and the record's id. ``record`` itself is not changed.
    """
    doc_id, fields = _split_record(dict(record) if isinstance(record, dict) else record, where)
    document = {
        "id": doc_id,
        "text": fields.pop("text"),
        "lang": fields.pop("lang", None) or fields.pop("language", None),
        "title": fields.pop("title", None) or None,
        "metadata": fields,
    }
    return _make_document(where, document, lang, detect)


def _iter_jsonl(path: Path, default_lang: str | None, detect: bool) -> Iterator[Document]:
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise CorpusError(f"{where}: not valid UTF-8 (byte {e.start} of the line)") from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise CorpusError(f"{where}: not a JSON object ({e.msg} at column {e.colno})") from None
            yield record_document(record, where, lang=default_lang, detect=detect)


def _iter_folder(path: Path, default_lang: str | None, detect: bool) -> Iterator[Document]:
    # hidden files and folders (.DS_Store-style companions, .git, editor backups) are not documents
    files = sorted(
        p for p in path.rglob("*.txt") if p.is_file() and not any(x.startswith(".") for x in p.relative_to(path).parts)
    )
    if not files:
        raise CorpusError(f"{path}: folder holds no .txt files")
    for file in files:
        rel = file.relative_to(path)
        lang = default_lang
        if len(rel.parts) > 1 and is_known_language(rel.parts[0]):
            lang = normalize_language(rel.parts[0])
        data = file.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise CorpusError(f"{file}: not valid UTF-8 (byte {e.start})") from None
        doc_id = rel.with_suffix("").as_posix()
        yield _make_document(str(file), {"id": doc_id, "text": text, "lang": lang}, None, detect)


def iter_corpus(path: str | Path, *, lang: str | None = None, detect: bool = False) -> Iterator[Document]:
    """Yield documents from a JSONL file or a folder of .txt files, checking ids are unique.

    ``lang`` is the language of records that carry none (otherwise it is detected at indexing).
    ``detect`` detects it here instead, so a record whose language cannot be told is an error
    naming its file and line. Hidden files and folders (names starting with ``.``) are skipped.
    """
    path = Path(path)
    default_lang = normalize_language(lang) if lang else None
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder")
    source = _iter_folder(path, default_lang, detect) if path.is_dir() else _iter_jsonl(path, default_lang, detect)
    seen: dict[str, int] = {}
    for n, doc in enumerate(source, start=1):
        if doc.id in seen:
            raise CorpusError(
                f"{path}: duplicate document id {doc.id!r} (record {n}; first seen as record {seen[doc.id]})"
            )
        seen[doc.id] = n
        yield doc


def read_corpus(path: str | Path, *, lang: str | None = None, detect: bool = False) -> list[Document]:
    """Read and validate a whole corpus; raises on the first bad record, before any indexing (:func:`iter_corpus`)."""
    return list(iter_corpus(path, lang=lang, detect=detect))


@dataclass(frozen=True)
class Corpus:
    """A corpus on disk (JSONL or a folder, as :func:`iter_corpus` reads it), read afresh on each iteration.

    What :meth:`clir_rag.index.CrossLingualIndex.add` streams: it reads a corpus twice (check
    everything, then index shard by shard) and, given a ``Corpus``, never holds it whole.
    """

    path: Path
    lang: str | None = None
    detect: bool = False

    def __iter__(self) -> Iterator[Document]:
        return iter_corpus(self.path, lang=self.lang, detect=self.detect)

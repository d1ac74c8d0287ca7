"""Translating a whole corpus into one language: resumable and idempotent by document id.

The output is a JSONL corpus (readable by :func:`clir_rag.corpus.read_corpus`)
whose records carry the translation as ``text`` and the original in
``original_text`` / ``original_lang`` / ``original_title``. Records are
appended and flushed batch by batch, so an interrupted run keeps every
finished batch; a half-written last line is cut off on the next run. A
document is translated again only when its text, title, language, the target
language or the model changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from clir_rag.errors import InputError
from clir_rag.languages import detect_language, normalize_language
from clir_rag.lock import WriterLock
from clir_rag.progress import progress_reporter
from clir_rag.translate.base import TranslationStats
from clir_rag.types import Document


@dataclass
class CorpusTranslationStats:
    """What one :func:`translate_corpus` run did."""

    documents: int = 0
    translated: int = 0
    skipped: int = 0
    copied: int = 0  # already in the target language
    seconds: float = 0.0
    sentences: int = 0

    @property
    def documents_per_second(self) -> float:
        """Documents translated per second."""
        return self.translated / self.seconds if self.seconds > 0 else 0.0


def source_hash(doc: Document, tgt: str, model: str) -> str:
    """What a translation depends on (text, title, language, target, model): a changed one is translated again."""
    h = hashlib.sha1()
    for part in (doc.text, doc.title or "", doc.lang or "", tgt, model):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def _read_done(path: Path) -> dict[str, str]:
    """``{doc id: source hash}`` of the records already written; cuts off a half-written last line."""
    if not path.exists():
        return {}
    data = path.read_bytes()
    good_end = data.rfind(b"\n") + 1
    if good_end < len(data):  # an interrupted write left a partial record
        with path.open("r+b") as fh:
            fh.truncate(good_end)
        data = data[:good_end]
    done: dict[str, str] = {}
    for lineno, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rec = json.loads(line)
                done[rec["id"]] = rec.get("source_hash", "")
            except (json.JSONDecodeError, KeyError) as e:
                raise InputError(f"{path}:{lineno}: not a translated-corpus record ({e})") from None
    return done


def _drop(path: Path, ids: set[str]) -> None:
    """Rewrite ``path`` without the records of ``ids`` (atomically)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with path.open(encoding="utf-8") as src, tmp.open("w", encoding="utf-8") as dst:
        for line in src:
            if line.strip() and json.loads(line)["id"] not in ids:
                dst.write(line)
    tmp.replace(path)


def translate_corpus(
    documents: Iterable[Document],
    translator: CorpusTranslator,
    tgt: str,
    out_path: str | Path,
    *,
    batch_size: int = 16,
    progress: bool | Callable[[int, int], None] = True,
    wait: float | None = 0.0,
) -> CorpusTranslationStats:
    """Translate ``documents`` into ``tgt`` and write them as JSONL to ``out_path``, resumably.

    A document already in ``tgt`` is copied; one already translated with the same text and
    model (its hash in the file) is kept, so an interrupted run picks up where it stopped.
    Each record keeps the original text and language. Raises
    :class:`~clir_rag.errors.InputError` for a document whose language cannot be told.
    """
    tgt = normalize_language(tgt)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    docs = []
    for doc in documents:
        if doc.lang is None:
            lang = detect_language(doc.text)
            if lang is None:
                raise InputError(f"document {doc.id!r}: no 'lang' given and its language cannot be detected")
            doc = doc.model_copy(update={"lang": lang})
        docs.append(doc)
    # one writer per output file: two runs appending to it would interleave and double records
    with WriterLock(out.parent, wait=wait, name=f".{out.name}.lock"):
        return _translate_into(docs, translator, tgt, out, batch_size, progress)


class CorpusTranslator(Protocol):
    """What :func:`translate_corpus` drives: a :class:`~clir_rag.translate.base.Translator`, or
    :class:`clir_rag.scale.RayTranslator` (the same model on Ray actors)."""

    name: str
    stats: TranslationStats

    def check_languages(self, src: str, tgt: str) -> None:
        """Raise :class:`~clir_rag.errors.UnsupportedLanguageError` for a pair the model cannot do."""

    def translate_batches(self, batches: Iterable[tuple[str, Sequence[str]]], tgt: str) -> Iterator[list[str]]:
        """Each ``(source language, texts)`` batch translated into ``tgt``, in order."""
        ...


def _translate_into(
    docs: list[Document],
    translator: CorpusTranslator,
    tgt: str,
    out: Path,
    batch_size: int,
    progress: bool | Callable[[int, int], None],
) -> CorpusTranslationStats:
    stats = CorpusTranslationStats(documents=len(docs))
    done = _read_done(out)
    hashes = {d.id: source_hash(d, tgt, translator.name) for d in docs}
    by_lang: dict[str, list[Document]] = {}
    for d in docs:
        if done.get(d.id) != hashes[d.id]:
            by_lang.setdefault(normalize_language(d.lang or ""), []).append(d)
    # a language the model cannot translate fails the run before anything is written
    for src in by_lang:
        if src != tgt:
            translator.check_languages(src, tgt)
    changed = {d.id for d in docs if d.id in done and done[d.id] != hashes[d.id]}
    if changed:
        _drop(out, changed)
    todo = sum(len(group) for group in by_lang.values())
    stats.skipped = len(docs) - todo
    batches = [
        (src, group[i : i + batch_size]) for src, group in by_lang.items() for i in range(0, len(group), batch_size)
    ]
    copies = [b for b in batches if b[0] == tgt]
    work = [b for b in batches if b[0] != tgt]
    # one request per batch: its texts, then the titles of those that have one
    requests = ((src, [d.text for d in b] + [d.title for d in b if d.title]) for src, b in work)

    report = progress_reporter(progress, todo, f"Translating into {tgt}")
    start = time.perf_counter()
    finished = 0
    sentences_before = translator.stats.segments
    try:
        with out.open("a", encoding="utf-8") as fh:

            def write(batch: list[Document], texts: Sequence[str], titles: Sequence[str | None]) -> None:
                nonlocal finished
                for d, text, title in zip(batch, texts, titles, strict=True):
                    rec = {
                        "id": d.id,
                        "text": text,
                        "lang": tgt,
                        "title": title,
                        "original_text": d.text,
                        "original_lang": d.lang,
                        "original_title": d.title,
                        "source_hash": hashes[d.id],
                        "translator": translator.name,
                        **d.metadata,
                    }
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                # each batch on disk before the next: an interrupted run keeps it
                fh.flush()
                os.fsync(fh.fileno())
                finished += len(batch)
                report(finished)

            for _, batch in copies:
                write(batch, [d.text for d in batch], [d.title for d in batch])
                stats.copied += len(batch)
            for (_, batch), translated in zip(work, translator.translate_batches(requests, tgt), strict=True):
                titles = iter(translated[len(batch) :])
                write(batch, translated[: len(batch)], [next(titles) if d.title else None for d in batch])
                stats.translated += len(batch)
    finally:
        report(None)
        stats.seconds = time.perf_counter() - start
        stats.sentences = translator.stats.segments - sentences_before
    return stats

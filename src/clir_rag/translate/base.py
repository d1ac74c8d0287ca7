"""The translator base: sentence segmentation, a sentence-level persistent cache, statistics.

Backends implement :meth:`Translator.translate_segments` (a batch of segments
in one language pair); everything around it is shared: documents are split
into sentences (sentencex, ~300 languages), sentences already in the cache
cost nothing, and translations are joined back per document.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from clir_rag.cache import SqliteCache, cache_key
from clir_rag.errors import InputError, TranslationModelError
from clir_rag.languages import normalize_language
from clir_rag.scripts import NO_SPACE_LANGS


def split_sentences(text: str, lang: str) -> list[str]:
    """Sentences of ``text`` (whitespace trimmed, empty ones dropped)."""
    from sentencex import segment

    try:
        parts = list(segment(lang, text))
    except Exception:  # an unknown language code for sentencex: fall back to its English rules
        parts = list(segment("en", text))
    return [p.strip() for p in parts if p.strip()]


def join_sentences(sentences: Sequence[str], lang: str) -> str:
    """Join translated sentences as ``lang`` writes them (no space in Chinese, Japanese, Thai, ...)."""
    return ("" if normalize_language(lang) in NO_SPACE_LANGS else " ").join(sentences)


@dataclass
class TranslationStats:
    """What a translator did: texts, segments, cache hits, and time spent in the backend."""

    texts: int = 0
    segments: int = 0
    cache_hits: int = 0
    translated: int = 0
    seconds: float = 0.0  # time in the backend

    @property
    def segments_per_second(self) -> float:
        """Segments translated per second in the backend."""
        return self.translated / self.seconds if self.seconds > 0 else 0.0

    @property
    def cache_hit_rate(self) -> float:
        """Share of segments answered from the cache."""
        return self.cache_hits / self.segments if self.segments else 0.0

    def merge(self, other: TranslationStats) -> None:
        """Add ``other``'s counts to these (a worker's stats into the job's)."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class Translator(ABC):
    """Translate texts between languages; ``name`` identifies the model in cache keys."""

    name: str = "translator"

    def __init__(self, cache: SqliteCache | str | Path | None = None, sentence_level: bool = True) -> None:
        self.cache = SqliteCache(cache) if isinstance(cache, str | Path) else cache
        self.sentence_level = sentence_level
        self.stats = TranslationStats()
        # segments a backend could not translate (it returned the source): not cached, so a rerun retries them;
        # per thread, so that concurrent calls (an async app's worker threads) do not clear each other's
        self._local = threading.local()

    @property
    def _failed(self) -> set[str]:
        failed: set[str] | None = getattr(self._local, "failed", None)
        if failed is None:
            failed = self._local.failed = set()
        return failed

    @abstractmethod
    def translate_segments(self, segments: Sequence[str], src: str, tgt: str) -> list[str]:
        """Translate a batch of sentences (or passages) from ``src`` to ``tgt`` (canonical codes)."""

    def check_languages(self, src: str, tgt: str) -> None:  # noqa: B027 - optional hook
        """Raise :class:`~clir_rag.errors.UnsupportedLanguageError` for a pair the model cannot do."""

    def translate(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        """Translate each text; texts already in ``tgt`` come back unchanged."""
        src, tgt = normalize_language(src), normalize_language(tgt)
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise InputError(f"text {i} of the batch is empty: nothing to translate")
        self.stats.texts += len(texts)
        if src == tgt:
            return list(texts)
        self.check_languages(src, tgt)
        per_text = [split_sentences(t, src) if self.sentence_level else [t.strip()] for t in texts]
        segments = sorted({s for sents in per_text for s in sents})
        keys = {s: cache_key(model=self.name, src=src, tgt=tgt, text=s) for s in segments}
        done: dict[str, str] = {}
        if self.cache is not None:
            hits = self.cache.get_many(list(keys.values()))
            done = {s: hits[k] for s, k in keys.items() if k in hits}
        todo = [s for s in segments if s not in done]
        self.stats.segments += len(segments)
        self.stats.cache_hits += len(done)
        if todo:
            start = time.perf_counter()
            out = self.translate_segments(todo, src, tgt)
            self.stats.seconds += time.perf_counter() - start
            if len(out) != len(todo):
                # a backend that breaks its contract: a bug in it, not in the input, and nothing to cache
                raise TranslationModelError(
                    f"{self.name}: the backend returned {len(out)} translations for {len(todo)} segments "
                    f"({src} -> {tgt})"
                )
            new = dict(zip(todo, out, strict=True))
            self.stats.translated += len(new)
            if self.cache is not None:
                self.cache.put_many({keys[s]: t for s, t in new.items() if s not in self._failed})
            self._failed.clear()
            done.update(new)
        return [join_sentences([done[s] for s in sents], tgt) for sents in per_text]

    def translate_batches(self, batches: Iterable[tuple[str, Sequence[str]]], tgt: str) -> Iterator[list[str]]:
        """Each ``(source language, texts)`` batch translated into ``tgt``, in order, one batch at a time.

        What :func:`~clir_rag.translate.corpus.translate_corpus` drives; a distributed translator
        (:class:`clir_rag.scale.RayTranslator`) runs the batches in parallel and yields them in the same order.
        """
        for src, texts in batches:
            yield self.translate(texts, src, tgt)


def translate_into(
    translator: Translator, texts: Sequence[str], langs: Sequence[str], tgt: str
) -> tuple[list[str | None], dict[str, str]]:
    """Each text translated from its own language (``langs``) into ``tgt``, one batch per source language.

    Returns the translations, None where a text is already in ``tgt``, and the source languages the
    translator cannot turn into ``tgt`` (language -> why); their texts are left as they are (None), so
    one unsupported language does not sink the others. What the framework postprocessors share.
    """
    from clir_rag.errors import UnsupportedLanguageError

    tgt = normalize_language(tgt)
    out: list[str | None] = [None] * len(texts)
    by_lang: dict[str, list[int]] = {}
    for i, lang in enumerate(langs):
        src = normalize_language(lang)
        if src != tgt:
            by_lang.setdefault(src, []).append(i)
    skipped: dict[str, str] = {}
    for src, idx in by_lang.items():
        try:
            translated = translator.translate([texts[i] for i in idx], src, tgt)
        except UnsupportedLanguageError as e:
            skipped[src] = str(e)
            continue
        for i, text in zip(idx, translated, strict=True):
            out[i] = text
    return out, skipped

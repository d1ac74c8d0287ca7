"""BM25 (bm25s) with one sub-index per document language, persisted in a folder.

One sub-index per language lets each language use its own analyzer at
indexing and query time, and lets query-translation (QT) search each
language with the query in that language. Scores of different sub-indexes
are merged as they are (each is a BM25 score over its own statistics).
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clir_rag.store.analysis import get_analyzer

DEFAULT_K1 = 0.9
DEFAULT_B = 0.4


class BM25Index:
    """Per-language bm25s indexes over passage ids."""

    def __init__(self, k1: float = DEFAULT_K1, b: float = DEFAULT_B) -> None:
        self.k1, self.b = k1, b
        self._indexes: dict[str, Any] = {}  # bm25s.BM25 per language (bm25s ships no type hints)
        self._ids: dict[str, list[str]] = {}
        self._docs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @property
    def languages(self) -> list[str]:
        """The languages that have a sub-index."""
        return sorted(self._indexes)

    def __len__(self) -> int:
        return sum(len(v) for v in self._ids.values())

    @classmethod
    def build(cls, passages: Iterable[tuple[str, str, str]], k1: float = DEFAULT_K1, b: float = DEFAULT_B) -> BM25Index:
        """Build from ``(passage id, text, lang)`` triples, read once as a stream.

        Texts are analysed as they come and kept only as token numbers (int32 per token,
        one vocabulary per language), so memory grows with the postings and the vocabulary,
        not with the raw text; ``passages`` can be a generator over a store of any size.
        """
        import bm25s

        by_lang: dict[str, _Postings] = {}
        for pid, text, lang in passages:
            postings = by_lang.get(lang)
            if postings is None:
                postings = by_lang[lang] = _Postings()
            # bm25s drops documents with no terms from its statistics but not from its numbering,
            # so an empty analysis (a passage of stopwords) keeps a placeholder term.
            postings.add(pid, get_analyzer(lang)(text) or ["\0"])
        index = cls(k1, b)
        for lang in sorted(by_lang):
            postings = by_lang.pop(lang)  # a language's postings go once its index is built: one build's at a time
            retriever = bm25s.BM25(k1=k1, b=b)
            retriever.index((postings.docs, postings.vocab), show_progress=False)
            index._indexes[lang] = retriever
            index._ids[lang] = postings.ids
        return index

    def search(
        self,
        query: str | Mapping[str, str],
        k: int,
        langs: Sequence[str] | None = None,
    ) -> list[tuple[str, float, str]]:
        """Top ``k`` ``(passage id, score, lang)`` with a positive score, best first.

        ``query`` is one text, analysed with each target language's analyzer, or a
        mapping ``{lang: query text in that lang}`` (query translation).
        """
        hits: list[tuple[str, float, str]] = []
        for lang, ids, scores in self.score_all(query, langs):
            positive = np.flatnonzero(scores > 0)
            if len(positive) > k:
                kth = np.partition(scores[positive], len(positive) - k)[len(positive) - k]
                positive = positive[scores[positive] >= kth]
            hits.extend((ids[int(i)], float(scores[i]), lang) for i in positive)
        hits.sort(key=lambda h: (-h[1], h[0]))
        return hits[:k]

    def score_all(
        self, query: str | Mapping[str, str], langs: Sequence[str] | None = None
    ) -> Iterator[tuple[str, list[str], np.ndarray]]:
        """Per language searched: ``(lang, passage ids, BM25 score of every passage)``.

        Every passage is scored (bm25s' sparse scoring, no thread pool: at these sizes starting
        threads cost more than the scoring), which keeps top-k and document aggregation exact.
        """
        for lang in langs or self.languages:
            if lang not in self._indexes:
                continue
            text = query.get(lang) if isinstance(query, Mapping) else query
            terms = get_analyzer(lang)(text) if text else []
            if not terms:
                continue
            yield lang, self._ids[lang], np.asarray(self._indexes[lang].get_scores(terms), dtype=np.float64)

    def documents_of(self, lang: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per passage of ``lang`` (in score order): its document id, a document number (in id order) and its
        passage number, read from passage ids ``<doc id>#<n>``."""
        if lang not in self._docs:
            parts = [pid.rpartition("#") for pid in self._ids[lang]]
            docs = np.asarray([d or pid for d, _, pid in parts], dtype=object)
            _, codes = np.unique(docs.astype(str), return_inverse=True)
            numbers = np.asarray([int(n) if n.isdigit() else 0 for _, _, n in parts], dtype=np.int64)
            self._docs[lang] = (docs, codes.reshape(-1), numbers)
        return self._docs[lang]

    def save(self, path: str | Path) -> None:
        """Write atomically: a half-written folder never replaces a good one."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.mkdir(parents=True)
        for lang, retriever in self._indexes.items():
            retriever.save(str(tmp / lang))
        (tmp / "ids.json").write_text(
            json.dumps({"k1": self.k1, "b": self.b, "ids": self._ids}, ensure_ascii=False), encoding="utf-8"
        )
        old = path.with_name(f".{path.name}.old")
        if path.exists():
            path.rename(old)
        tmp.rename(path)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, path: str | Path, mmap: bool = True) -> BM25Index:
        """Load an index written by :meth:`save`.

        The score matrices are memory-mapped (``mmap``): a large index costs page cache,
        shared between processes serving it, rather than each process's own memory.
        """
        import bm25s

        path = Path(path)
        meta = json.loads((path / "ids.json").read_text(encoding="utf-8"))
        index = cls(meta["k1"], meta["b"])
        for lang, ids in meta["ids"].items():
            index._indexes[lang] = bm25s.BM25.load(str(path / lang), mmap=mmap)
            index._ids[lang] = ids
        return index


class _Postings:
    """One language's passages as token numbers: what BM25 is built from, without the text."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.vocab: dict[str, int] = {}
        self.docs: list[np.ndarray] = []

    def add(self, pid: str, terms: Sequence[str]) -> None:
        vocab = self.vocab
        numbers = [vocab.setdefault(t, len(vocab)) for t in terms]
        self.ids.append(pid)
        self.docs.append(np.asarray(numbers, dtype=np.int32))

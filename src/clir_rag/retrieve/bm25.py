"""Sparse retrieval: BM25 with language-aware analysis over the same passages as the dense index."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from clir_rag.retrieve.aggregate import document_ranking
from clir_rag.retrieve.base import BaseRetriever, as_langs, as_query, check_k
from clir_rag.store.base import VectorStore
from clir_rag.store.bm25 import BM25Index
from clir_rag.types import Aggregation, Query, Ranking


class BM25Retriever(BaseRetriever):
    """BM25 over per-language sub-indexes; passage texts come from the vector store.

    Without translation, an English query only matches other languages through
    shared strings (names, numbers, cognates): that is what BM25 can do
    cross-lingually, and why dense and hybrid are the defaults.
    """

    name = "bm25"

    def __init__(self, bm25: BM25Index, store: VectorStore) -> None:
        self.bm25 = bm25
        self.store = store

    def retrieve(
        self,
        query: Query | str,
        k: int = 10,
        *,
        langs: Sequence[str] | None = None,
        query_by_lang: Mapping[str, str] | None = None,
    ) -> Ranking:
        """See :meth:`BaseRetriever.retrieve`; ``query_by_lang`` gives the query text per document language (QT)."""
        return self._retrieve(as_query(query), check_k(k), as_langs(langs), query_by_lang)

    def _retrieve(
        self, q: Query, k: int, langs: list[str] | None, query_by_lang: Mapping[str, str] | None = None
    ) -> Ranking:
        hits = self.bm25.search(query_by_lang or q.text, k, langs)
        stored = self.store.get([pid for pid, _, _ in hits])
        candidates = [stored[pid].model_copy(update={"score": score}) for pid, score, _ in hits if pid in stored]
        return Ranking.from_unsorted(q, candidates, retriever=self.name)

    def rank_documents(
        self,
        query: Query | str,
        k: int,
        method: Aggregation = "maxp",
        *,
        langs: Sequence[str] | None = None,
        query_by_lang: Mapping[str, str] | None = None,
    ) -> Ranking:
        """Exact MaxP/FirstP: every passage is scored, each document takes its best (or first) passage."""
        return self._rank_documents(as_query(query), check_k(k), method, as_langs(langs), query_by_lang)

    def _rank_documents(
        self,
        q: Query,
        k: int,
        method: Aggregation,
        langs: list[str] | None,
        query_by_lang: Mapping[str, str] | None = None,
    ) -> Ranking:
        best: list[tuple[float, str, str]] = []  # (score, doc id, passage id)
        for lang, ids, scores in self.bm25.score_all(query_by_lang or q.text, langs):
            docs, codes, numbers = self.bm25.documents_of(lang)
            rows = np.flatnonzero((scores > 0) & ((numbers == 0) if method == "firstp" else True))
            if not len(rows):
                continue
            # each document's best passage: sort by (document, -score, passage number), keep the first
            order = rows[np.lexsort((numbers[rows], -scores[rows], codes[rows]))]
            first = order[np.r_[True, codes[order][1:] != codes[order][:-1]]]
            top = first[np.lexsort((codes[first], -scores[first]))][:k]  # a language's k best suffice
            best.extend((float(scores[i]), str(docs[i]), ids[int(i)]) for i in top)
        best.sort(key=lambda x: (-x[0], x[1]))
        best = best[:k]
        stored = self.store.get([pid for _, _, pid in best])
        passages = [stored[pid].model_copy(update={"score": s}) for s, _, pid in best if pid in stored]
        return document_ranking(q, passages, f"{self.name}+{method}")

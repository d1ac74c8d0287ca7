"""The debiased dense retriever: a query's correction chosen and fitted, then searched exactly in memory or by a bound.

Below the store's exact-search limit (:mod:`clir_rag.store.matrix`) every passage is scored in memory
(:meth:`~clir_rag.retrieve.debias.corrections.Correction.matrix`), and documents are ranked over all
their passages. Above it the store's nearest neighbours are deepened until the correction's bound
proves the top k (:mod:`clir_rag.retrieve.debias.search`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from clir_rag.embed.base import Encoder
from clir_rag.languages import detect_language
from clir_rag.retrieve.aggregate import document_ranking
from clir_rag.retrieve.base import BaseRetriever
from clir_rag.retrieve.debias.corrections import CORRECTIONS, Correction
from clir_rag.retrieve.debias.means import DEFAULT_MIN_SERVED, DEFAULT_SHRINK, EPS
from clir_rag.retrieve.debias.policy import check_debias, resolve_auto
from clir_rag.retrieve.debias.search import bound_search, top_candidates
from clir_rag.retrieve.dense import materialise
from clir_rag.store.chroma import ChromaStore
from clir_rag.store.matrix import Refine, VectorMatrix
from clir_rag.store.stats import LanguageStats
from clir_rag.types import Aggregation, Debias, Query, Ranking


class DebiasedDenseRetriever(BaseRetriever):
    """Dense retrieval with a language-bias correction (``center``, ``zscore``, ``center-zscore`` or ``auto``), exact.

    ``auto`` decides per query (:func:`~clir_rag.retrieve.debias.policy.resolve_auto`); the ranking's
    ``retriever`` names what was done (``dense-center``, ``dense-zscore``, ``dense-center-zscore`` or ``dense``).

    ``stats`` returns the index's current :class:`LanguageStats` (it raises
    :class:`~clir_rag.errors.IndexStatsError` when they are missing or stale).
    A query without ``lang`` has its language detected (lingua); ``record_queries``
    folds every served query into the running served-query mean.
    """

    def __init__(
        self,
        store: ChromaStore,
        encoder: Encoder,
        stats: Callable[[], LanguageStats],
        method: Debias = "auto",
        *,
        shrink: float = DEFAULT_SHRINK,
        min_served: int = DEFAULT_MIN_SERVED,
        record_queries: Callable[[np.ndarray, str], None] | None = None,
    ) -> None:
        check_debias(method)
        self.store = store
        self.encoder = encoder
        self._stats = stats
        self.method = method
        self.shrink = shrink
        self.min_served = min_served
        self.record_queries = record_queries
        self.name = f"dense-{method}"

    def query_language(self, query: Query) -> str | None:
        """The query's language: as given, else detected (None when lingua cannot tell)."""
        return query.lang or detect_language(query.text)

    def _retrieve(self, q: Query, k: int, langs: list[str] | None) -> Ranking:
        m = self.store.matrix()
        vec, qlang, method, doc_langs, stats = self._prepare(q, langs, m)
        name = "dense" if method == "none" else f"dense-{method}"
        if k <= 0 or not doc_langs:
            return Ranking(query=q, candidates=[], retriever=name)
        if m is not None:
            scores, raw, refine = self._matrix_scores(m, stats, vec, qlang, method, doc_langs)
            top = m.top(scores, k, m.rows(langs), refine)
            cands = materialise(self.store, m, top, {r: {"cosine": float(raw[r])} for r, _ in top})
        elif method == "none":
            cands = self.store.query(vec, k, langs)
        else:
            fix = self._correction(method, stats, vec, qlang, doc_langs)
            cands = top_candidates(self.store, bound_search(self.store, stats, fix, k, doc_langs), vec, k)
        ranking = Ranking.from_unsorted(q, cands, retriever=name)
        ranking.candidates = ranking.candidates[:k]
        return ranking

    def _rank_documents(self, q: Query, k: int, method: Aggregation, langs: list[str] | None) -> Ranking | None:
        """Exact MaxP/FirstP of the corrected scores over every stored passage; None above the exact-search limit."""
        m = self.store.matrix()
        if m is None:
            return None
        vec, qlang, correction, doc_langs, stats = self._prepare(q, langs, m)
        name = "dense" if correction == "none" else f"dense-{correction}"
        if k <= 0 or not doc_langs:
            return Ranking(query=q, candidates=[], retriever=f"{name}+{method}", level="document")
        scores, raw, refine = self._matrix_scores(m, stats, vec, qlang, correction, doc_langs)
        best = m.top_documents(scores, k, method, m.rows(langs), refine)
        cands = materialise(self.store, m, best, {r: {"cosine": float(raw[r])} for r, _ in best})
        return document_ranking(q, cands, f"{name}+{method}")

    def _prepare(
        self, q: Query, langs: list[str] | None, m: VectorMatrix | None
    ) -> tuple[np.ndarray, str | None, str, list[str], LanguageStats]:
        """Encode the query, find its language and the correction to apply (``m``: the store's matrix,
        fetched once per search); record the query if asked."""
        stats = self._stats()
        vec = np.asarray(self.encoder.encode_queries([q.text])[0], dtype=np.float64)
        qlang = self.query_language(q)
        doc_langs = [lang for lang in sorted(stats.passages) if langs is None or lang in langs]
        method = resolve_auto(stats, qlang, m) if self.method == "auto" else self.method
        if self.record_queries is not None and qlang is not None:
            self.record_queries(vec, qlang)
        return vec, qlang, method, doc_langs, stats

    def _correction(
        self, method: str, stats: LanguageStats, vec: np.ndarray, qlang: str | None, doc_langs: list[str]
    ) -> Correction:
        """The correction ``method``, fitted to this query over ``doc_langs``."""
        return CORRECTIONS[method](stats, vec, qlang, doc_langs, shrink=self.shrink, min_served=self.min_served)

    def _matrix_scores(
        self,
        m: VectorMatrix,
        stats: LanguageStats,
        vec: np.ndarray,
        qlang: str | None,
        method: str,
        doc_langs: list[str],
    ) -> tuple[np.ndarray, np.ndarray, Refine | None]:
        """Corrected scores and raw cosines of every row, and a float64 rescoring of chosen rows (or None).

        The raw cosines are float32 products unless the correction computed them in float64; float32
        scores only shortlist, and the rows that can make the top k are rescored exactly (see
        :meth:`VectorMatrix.top`).
        """
        v = vec / max(float(np.linalg.norm(vec)), EPS)
        raw = (m.vectors @ v.astype(np.float32)).astype(np.float64)
        if method == "none":
            return raw, raw, lambda rows: m.vectors[rows].astype(np.float64) @ v
        got = self._correction(method, stats, vec, qlang, doc_langs).matrix(m)
        return got.scores, raw if got.cosine is None else got.cosine, got.refine

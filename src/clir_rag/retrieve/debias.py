"""Dense retrieval corrected for language bias: centred cosine or per-language z-scores, exact.

A multilingual bi-encoder ranks passages in the query's own language first,
whatever their relevance: on pooled XQuAD (12 languages) Chinese questions
get top-20 lists that are 97% Chinese. Two training-free corrections:

``center``
    ``cos(q - mu[lang(q)], p - mu[lang(p)])``: every passage minus its
    language's mean passage embedding, the query minus its language's mean
    (Libovický et al., 2020). Where the query-side mean comes from is
    resolved by :func:`query_mean` in this order, chosen by measurement
    (evals/README.md): calibration queries in the query's language (stored
    with :meth:`~clir_rag.index.CrossLingualIndex.calibrate`); the running
    mean of served queries (opt-in, at least ``min_served`` of them); the
    index's passages in the query's language; the mean of all passages when
    the index holds several languages; otherwise the query is not centred.
``zscore``
    ``(s - mean_l(s)) / std_l(s)`` with ``s = cos(q, p)``, the mean and the
    standard deviation taken over *all* passages of ``p``'s language,
    computed exactly from the stored first and second moments.

Chroma cannot rank by either score, so the search is exact by construction,
not approximate: each document language is queried separately and its
candidates are rescored from their stored vectors. For ``zscore`` the score
is increasing in the raw cosine within a language, so the top k of each
language suffice. For ``center`` it is not (the passage norm after centring
varies), so each language is deepened until no unseen passage can beat the
current k-th score. The bound uses that unseen passages have a raw similarity
no larger than the last one fetched, and that ``|p - mu|`` lies within the
language's stored radius bounds. The candidates returned, their order and
their scores are those a brute-force computation over the fetched languages
gives (given the vector store's own nearest-neighbour search).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from clir_rag.embed.base import Encoder
from clir_rag.errors import InputError
from clir_rag.languages import detect_language
from clir_rag.retrieve.base import as_langs, as_query
from clir_rag.store.chroma import ChromaStore
from clir_rag.store.stats import LanguageStats
from clir_rag.types import Query, Ranking, ScoredCandidate

Debias = Literal["auto", "none", "center", "zscore"]
DEBIAS_METHODS: tuple[str, ...] = ("auto", "none", "center", "zscore")
QuerySource = Literal["calibration", "served", "passages", "global", "none"]

# Below this many passages a language's own mean is mostly topic, not language: shrink it toward the
# mean of all passages (a language with one passage would otherwise centre it to the zero vector).
DEFAULT_SHRINK = 10.0
# A running mean of served queries is used only once it averages this many queries.
DEFAULT_MIN_SERVED = 50
_EPS = 1e-9


def check_debias(method: str) -> str:
    if method not in DEBIAS_METHODS:
        raise InputError(f"unknown debias method {method!r}: use {', '.join(DEBIAS_METHODS)}")
    return method


def resolve_auto(stats: LanguageStats, query_lang: str | None) -> str:
    """What ``auto`` does for a query: ``center`` where it was measured to help, else ``none``.

    Measured on XQuAD (evals/README.md): with several document languages, centring lifts pooled
    nDCG@20 a lot. With one document language it helps a cross-lingual query only when the query
    itself can be centred with a mean of queries in its language (calibration or served queries):
    centring the passages alone changes little, and subtracting another language's mean costs
    nDCG. A query in the documents' own language is left alone (monolingual search: every
    correction measured cost 0.3-1.3 points).
    """
    if len(stats.passages) > 1:
        return "center"
    if query_lang is None or query_lang in stats.passages:
        return "none"
    return "center" if query_mean(stats, query_lang)[1] in ("calibration", "served") else "none"


def query_mean(
    stats: LanguageStats, lang: str | None, *, min_served: int = DEFAULT_MIN_SERVED
) -> tuple[np.ndarray | None, QuerySource]:
    """The mean to subtract from a query in ``lang``, and where it came from.

    In this order (measured on XQuAD, evals/README.md): the calibration queries of ``lang``
    (a mean of queries fits queries best: 0.4-1.8 points of nDCG@20 above the passage mean on
    pooled XQuAD); the served queries of ``lang`` once there are ``min_served``; the index's
    passages in ``lang``; with several document languages, the mean of all passages (better than
    no centring there, by 1-5 points); otherwise nothing (with one document language, its mean is
    another language's and cost 1-3 points).
    """
    if lang is not None:
        cal = stats.calibration.get(lang)
        if cal is not None and cal.count > 0:
            return cal.mean, "calibration"
        served = stats.served.get(lang)
        if served is not None and served.count >= min_served:
            return served.mean, "served"
        if lang in stats.passages:
            return centre_of(stats, lang), "passages"
    if len(stats.passages) > 1:
        return stats.global_mean(), "global"
    return None, "none"


def centre_of(stats: LanguageStats, lang: str, shrink: float = DEFAULT_SHRINK) -> np.ndarray:
    """``lang``'s passage mean, shrunk toward the mean of all passages by ``shrink`` pseudo-passages."""
    m = stats.passages[lang]
    g = stats.global_mean()
    if shrink <= 0 or g is None:
        return m.mean
    return (m.sum + shrink * g) / (m.count + shrink)


class DebiasedDenseRetriever:
    """Dense retrieval with a language-bias correction (``center``, ``zscore`` or ``auto``), exact.

    ``auto`` decides per query (:func:`resolve_auto`); the ranking's ``retriever``
    names what was done (``dense-center``, ``dense-zscore`` or ``dense``).

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

    def retrieve(self, query: Query | str, k: int = 10, *, langs: Sequence[str] | None = None) -> Ranking:
        q = as_query(query)
        stats = self._stats()
        vec = np.asarray(self.encoder.encode_queries([q.text])[0], dtype=np.float64)
        qlang = self.query_language(q)
        wanted = as_langs(langs)
        doc_langs = [lang for lang in sorted(stats.passages) if wanted is None or lang in wanted]
        method = resolve_auto(stats, qlang) if self.method == "auto" else self.method
        name = "dense" if method == "none" else f"dense-{method}"
        if k <= 0 or not doc_langs:
            return Ranking(query=q, candidates=[], retriever=name)
        if method == "center":
            cands = self._center(stats, vec, qlang, k, doc_langs)
        elif method == "zscore":
            cands = self._zscore(stats, vec, k, doc_langs)
        else:
            cands = self.store.query(vec, k, wanted)
        if self.record_queries is not None and qlang is not None:
            self.record_queries(vec, qlang)
        ranking = Ranking.from_unsorted(q, cands, retriever=name)
        ranking.candidates = ranking.candidates[:k]
        for c in ranking.candidates:
            c.metadata.pop("_raw", None)  # bookkeeping of the exact search, not for users
        return ranking

    # -- center ---------------------------------------------------------------------

    def _center(
        self, stats: LanguageStats, vec: np.ndarray, qlang: str | None, k: int, doc_langs: list[str]
    ) -> list[ScoredCandidate]:
        mq, _ = query_mean(stats, qlang, min_served=self.min_served)
        u = vec - mq if mq is not None else vec.copy()
        norm = float(np.linalg.norm(u))
        if norm < _EPS:  # the query is its language's mean: nothing to rank by but the raw vector
            u, norm = vec.copy(), float(np.linalg.norm(vec))
        u /= norm
        centres = {lang: centre_of(stats, lang, self.shrink) for lang in doc_langs}
        # first depth: enough for an even share of k per language, and some slack
        depth = {
            lang: min(stats.passages[lang].count, max(10, 2 * math.ceil(k / len(doc_langs)))) for lang in doc_langs
        }
        fetched: dict[str, list[ScoredCandidate]] = {}
        pending = list(doc_langs)
        while pending:
            for lang in pending:
                fetched[lang] = self._rescore_center(u, vec, lang, depth[lang], centres[lang])
            scores = sorted((c.score for cs in fetched.values() for c in cs), reverse=True)
            kth = scores[k - 1] if len(scores) >= k else -math.inf
            pending = []
            for lang in doc_langs:
                count = stats.passages[lang].count
                got = fetched[lang]
                if len(got) < depth[lang] or depth[lang] >= count:
                    continue  # the language is exhausted: everything it has was scored
                if self._unseen_bound(stats, lang, u, centres[lang], got) >= kth:
                    depth[lang] = min(count, depth[lang] * 2)
                    pending.append(lang)
        return [c for cs in fetched.values() for c in cs]

    def _rescore_center(
        self, u: np.ndarray, vec: np.ndarray, lang: str, n: int, centre: np.ndarray
    ) -> list[ScoredCandidate]:
        cands, vectors = self.store.query_with_vectors(u, n, lang)
        if not cands:
            return []
        centred = vectors - centre
        norms = np.maximum(np.linalg.norm(centred, axis=1), _EPS)
        scores = centred @ u / norms
        raw = vectors @ u  # what the store ranked by (u is unit, stored vectors are unit)
        cos = vectors @ vec / max(float(np.linalg.norm(vec)), _EPS)
        out = []
        for c, s, a, plain in zip(cands, scores, raw, cos, strict=True):
            out.append(
                c.model_copy(
                    update={"score": float(s), "metadata": {**c.metadata, "cosine": float(plain), "_raw": float(a)}}
                )
            )
        return out

    @staticmethod
    def _unseen_bound(
        stats: LanguageStats, lang: str, u: np.ndarray, centre: np.ndarray, got: list[ScoredCandidate]
    ) -> float:
        """The best centred score a passage of ``lang`` that was not fetched could have."""
        m = stats.passages[lang]
        drift = float(np.linalg.norm(centre - m.ref))
        lo, hi = max(m.r_lo - drift, _EPS), m.r_hi + drift
        a_last = min(c.metadata["_raw"] for c in got) + 1e-6  # slack for the store's float32 ranking
        gap = a_last - float(u @ centre)
        return gap / lo if gap > 0 else gap / hi

    # -- zscore ---------------------------------------------------------------------

    def _zscore(self, stats: LanguageStats, vec: np.ndarray, k: int, doc_langs: list[str]) -> list[ScoredCandidate]:
        v = vec / max(float(np.linalg.norm(vec)), _EPS)
        out: list[ScoredCandidate] = []
        for lang in doc_langs:
            m = stats.passages[lang]
            mean = float(v @ m.mean)
            std = math.sqrt(max(float(v @ m.covariance() @ v), 0.0))
            cands, vectors = self.store.query_with_vectors(v, min(k, m.count), lang)
            if not cands:
                continue
            raw = vectors @ v
            z = (raw - mean) / std if std > 1e-6 else np.zeros_like(raw)
            out.extend(
                c.model_copy(update={"score": float(s), "metadata": {**c.metadata, "cosine": float(a)}})
                for c, s, a in zip(cands, z, raw, strict=True)
            )
        return out

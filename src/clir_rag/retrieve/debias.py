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
``center-zscore``
    ``center``, then ``zscore`` on the centred cosines: with ``n_p = (p - c) /
    |p - c|`` (``c`` the reference point of ``p``'s language, its passage mean
    when the statistics were last tightened) and ``u`` the centred query as for
    ``center``, the score is ``(u.n_p - mean_l(u.n)) / std_l(u.n)`` over all
    passages of ``p``'s language, exact from the stored moments of the
    directions ``n``. Centring removes the language direction; the z-score then
    puts every language's centred cosines on one scale (a probe on pooled
    XQuAD: +1.3 to +1.7 nDCG@20 over ``center``, evals/README.md).

Below the store's exact-search limit (:mod:`clir_rag.store.matrix`) every
passage is scored in memory. Above it, Chroma cannot rank by either score, so
the search is exact by a bound, not approximate: each document language is queried separately and its
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from clir_rag.embed.base import Encoder
from clir_rag.errors import InputError
from clir_rag.languages import detect_language
from clir_rag.retrieve.base import BaseRetriever
from clir_rag.retrieve.dense import document_ranking, materialise
from clir_rag.store.base import VectorStore
from clir_rag.store.matrix import Refine, VectorMatrix
from clir_rag.store.stats import LanguageStats, PassageMoments, directions
from clir_rag.types import DEBIAS_METHODS, Debias, Query, Ranking, ScoredCandidate

QuerySource = Literal["calibration", "served", "passages", "global", "none"]

# Below this many passages a language's own mean is mostly topic, not language: shrink it toward the
# mean of all passages (a language with one passage would otherwise centre it to the zero vector).
DEFAULT_SHRINK = 10.0
# A running mean of served queries is used only once it averages this many queries.
DEFAULT_MIN_SERVED = 50
# A collection of translations: a passage's best centred cosine with a passage in another language is
# about .7 when it has a translation there and .2-.35 when it has none (pooled and scattered XQuAD, the
# demo); auto takes center-zscore when at least half of a sample of passages have one.
TRANSLATION_COSINE = 0.5
TRANSLATION_SHARE = 0.5
TRANSLATION_SAMPLE = 300
_EPS = 1e-9


def check_debias(method: str) -> str:
    """``method`` if it is a debiasing method (:data:`DEBIAS_METHODS`); else InputError."""
    if method not in DEBIAS_METHODS:
        raise InputError(f"unknown debias method {method!r}: use {', '.join(DEBIAS_METHODS)}")
    return method


def translation_share(m: VectorMatrix, stats: LanguageStats, *, sample: int = TRANSLATION_SAMPLE) -> float:
    """Share of sampled passages with a likely translation in another language of the index.

    A passage has one when its best centred cosine (each passage minus its language's centre) with a
    passage in another language reaches :data:`TRANSLATION_COSINE`. The sample is fixed (seed 0) for
    a given number of passages; the value is computed once per committed state. 0.0 with one language.
    """
    if len(stats.passages) < 2 or len(m) == 0:
        return 0.0
    key = ("translation_share", sample)
    if key not in m.memo:
        names, codes = m.language_codes()
        g = stats.global_mean()
        fallback = g if g is not None else np.zeros(stats.dim)
        centres = np.stack([centre_of(stats, x) if x in stats.passages else fallback for x in names])
        centres = centres.astype(np.float32)
        rows = np.random.default_rng(0).choice(len(m), size=min(sample, len(m)), replace=False)
        picked = m.vectors[rows] - centres[codes[rows]]
        picked /= np.maximum(np.linalg.norm(picked, axis=1, keepdims=True), _EPS)
        best = np.full(len(rows), -np.inf)
        for start in range(0, len(m), 8192):  # in blocks: no row-sized centred copy of a large matrix
            part = slice(start, start + 8192)
            block = m.vectors[part] - centres[codes[part]]
            block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), _EPS)
            sims = picked @ block.T
            sims[codes[rows][:, None] == codes[part][None, :]] = -np.inf  # only other languages count
            best = np.maximum(best, sims.max(axis=1))
        m.memo[key] = float(np.mean(best >= TRANSLATION_COSINE))
    return float(m.memo[key])  # type: ignore[arg-type]


def resolve_auto(stats: LanguageStats, query_lang: str | None, matrix: VectorMatrix | None = None) -> str:
    """What ``auto`` does: ``center-zscore`` or ``center`` where measured to help, else ``none``.

    Measured on XQuAD (evals/README.md): with several document languages, centring lifts pooled
    nDCG@20 a lot. ``center-zscore`` ranks higher where every answer exists in every language (a
    collection of translations) but far lower where each document exists in one language only (XQuAD
    paragraphs scattered one language each). So ``auto`` takes ``center-zscore`` when the index looks
    like a collection of translations (:func:`translation_share` of ``matrix`` at least
    :data:`TRANSLATION_SHARE`) and ``center`` otherwise: also above the store's exact-search limit
    (no ``matrix``), and where the statistics predate the direction moments ``center-zscore`` needs.
    With one document language it helps a cross-lingual query only when the query
    itself can be centred with a mean of queries in its language (calibration or served queries):
    centring the passages alone changes little, and subtracting another language's mean costs
    nDCG. A query in the documents' own language is left alone (monolingual search: every
    correction measured cost 0.3-1.3 points).
    """
    if len(stats.passages) > 1:
        parallel = (
            matrix is not None
            and all(m.has_directions for m in stats.passages.values())
            and translation_share(matrix, stats) >= TRANSLATION_SHARE
        )
        return "center-zscore" if parallel else "center"
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


class DebiasedDenseRetriever(BaseRetriever):
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
        store: VectorStore,
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
            scores, extra, refine = self._matrix_scores(m, stats, vec, qlang, method, doc_langs)
            top = m.top(scores, k, m.rows(langs), refine)
            cands = materialise(self.store, m, top, {r: {"cosine": float(extra[r])} for r, _ in top})
        elif method == "none":
            cands = self.store.query(vec, k, langs)
        else:
            if method == "center":
                scored = self._center(stats, vec, qlang, k, doc_langs)
            elif method == "center-zscore":
                scored = self._center_zscore(stats, vec, qlang, k, doc_langs)
            else:
                scored = self._zscore(stats, vec, k, doc_langs)
            cands = self._materialise(scored, vec, k)
        ranking = Ranking.from_unsorted(q, cands, retriever=name)
        ranking.candidates = ranking.candidates[:k]
        return ranking

    def _rank_documents(self, q: Query, k: int, method: str, langs: list[str] | None) -> Ranking | None:
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

    def _matrix_scores(
        self,
        m: VectorMatrix,
        stats: LanguageStats,
        vec: np.ndarray,
        qlang: str | None,
        method: str,
        doc_langs: list[str],
    ) -> tuple[np.ndarray, np.ndarray, Refine | None]:
        """Corrected scores and raw cosines of every row, and a float64 rescoring of chosen rows.

        The scores over all rows are float32 products, computed without a row-sized copy of the
        matrix: ``|p - c|^2 = |p|^2 - 2 p.c + |c|^2`` for unit rows ``p``, so centring needs one
        product with the query and one with the language centres. They only shortlist; the rows
        that can make the top k are rescored exactly (see :meth:`VectorMatrix.top`).
        """
        v = vec / max(float(np.linalg.norm(vec)), _EPS)
        raw = (m.vectors @ v.astype(np.float32)).astype(np.float64)
        if method == "none":
            return raw, raw, lambda rows: m.vectors[rows].astype(np.float64) @ v
        names, codes = m.language_codes()
        scores = np.full(len(m), -np.inf)
        if method == "zscore":
            # dividing by a language's small spread magnifies float32 rounding: score in float64
            raw = m.vectors64 @ v
            for i, lang in enumerate(names):
                if lang in doc_langs:
                    s = stats.passages[lang]
                    sd = math.sqrt(max(float(v @ s.covariance() @ v), 0.0))
                    rows = codes == i
                    scores[rows] = (raw[rows] - float(v @ s.mean)) * (1.0 / sd if sd > 1e-6 else 0.0)
            return scores, raw, None
        u = self._centred_query(stats, vec, qlang)
        known = [lang for lang in names if lang in doc_langs]
        if method == "center-zscore":
            # as for zscore, the division by a language's spread needs float64 throughout; the centred
            # cosine comes from products with the query and the reference points, without a row-sized
            # copy: |p - r|^2 = |p|^2 - 2 p.r + |r|^2
            vz = m.vectors64
            if "sqnorm64" not in m.memo:
                m.memo["sqnorm64"] = np.einsum("ij,ij->i", vz, vz)
            sqnorm: np.ndarray = m.memo["sqnorm64"]  # type: ignore[assignment]
            refs = np.stack([stats.passages[lang].ref for lang in known]) if known else np.zeros((0, len(u)))
            pu, pr = vz @ u, vz @ refs.T  # rows, rows x languages
            for j, lang in enumerate(known):
                rows = codes == names.index(lang)
                r = refs[j]
                sq = sqnorm[rows] - 2.0 * pr[rows, j] + float(r @ r)
                far = sq > 1e-18  # a passage at the reference point has no direction: it scores 0 there
                cos = np.where(far, (pu[rows] - float(u @ r)) / np.sqrt(np.where(far, sq, 1.0)), 0.0)
                mean, sd = _direction_scale(stats.passages[lang], u)
                scores[rows] = (cos - mean) * (1.0 / sd if sd > 1e-6 else 0.0)
            return scores, raw, None
        centres = np.stack([centre_of(stats, lang, self.shrink) for lang in known]) if known else np.zeros((0, len(v)))
        pu = (m.vectors @ u.astype(np.float32)).astype(np.float64)
        pc = (m.vectors @ centres.T.astype(np.float32)).astype(np.float64)  # rows x languages
        for j, lang in enumerate(known):
            rows = codes == names.index(lang)
            c = centres[j]
            sq = np.maximum(1.0 - 2.0 * pc[rows, j] + float(c @ c), _EPS * _EPS)
            scores[rows] = (pu[rows] - float(u @ c)) / np.sqrt(sq)
        column = np.array([known.index(x) if x in known else 0 for x in names], dtype=np.int64)

        def refine(rows: np.ndarray) -> np.ndarray:
            centred = m.vectors[rows].astype(np.float64) - centres[column[codes[rows]]]
            return centred @ u / np.maximum(np.linalg.norm(centred, axis=1), _EPS)

        return scores, raw, refine

    def _materialise(self, scored: list[_Scored], vec: np.ndarray, k: int) -> list[ScoredCandidate]:
        """Texts and metadata for the top ``k`` only: fetched once, after the exact scores are known."""
        ids = np.concatenate([x.ids for x in scored]) if scored else np.array([], dtype=object)
        scores = np.concatenate([x.scores for x in scored]) if scored else np.zeros(0)
        vectors = np.concatenate([x.vectors for x in scored]) if scored else np.zeros((0, len(vec)))
        order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:k]
        stored = self.store.get([str(ids[i]) for i in order])
        cos = vectors @ vec / max(float(np.linalg.norm(vec)), _EPS)
        out = []
        for i in order:
            c = stored.get(str(ids[i]))
            if c is None:  # removed between the search and the fetch (another writer)
                continue
            c.score = float(scores[i])
            c.metadata["cosine"] = float(cos[i])  # the uncorrected similarity, for comparison
            out.append(c)
        return out

    # -- the exact search -----------------------------------------------------------

    def _search(
        self,
        stats: LanguageStats,
        search_vec: np.ndarray,
        k: int,
        doc_langs: list[str],
        fix: _Correction,
    ) -> list[_Scored]:
        """Fetch the nearest passages by raw similarity to ``search_vec``, deepening until exact.

        ``fix.score(vectors, langs)`` gives the corrected scores; ``fix.bound(lang, a)`` the best
        corrected score a passage of ``lang`` with raw similarity at most ``a`` can have. Unfetched passages
        have a raw similarity no larger than the last one fetched, so once every language's bound
        is below the k-th corrected score, no unfetched passage can enter the top k. One unfiltered
        store query per round is far cheaper than a filtered query per language.
        """
        total = sum(stats.passages[lang].count for lang in doc_langs)
        only = None if len(doc_langs) == len(stats.passages) else doc_langs
        n = min(total, max(40, 4 * k))
        rounds = 0
        while True:
            if len(doc_langs) > 1 and (4 * n > total or rounds == 2):
                # deep: a search per language, each deepened on its own, fetches less than a global
                # search that must reach the least favoured language (measured, benchmarks/README.md)
                return self._search_per_language(stats, search_vec, k, doc_langs, fix)
            rounds += 1
            ids, vectors, langs = self.store.nearest_vectors(search_vec, n, only)
            scores = fix.score(vectors, langs)
            got = _Scored(ids, vectors, scores, vectors @ search_vec)
            if len(ids) < n or n >= total:
                return [got]  # every passage of these languages was scored
            kth = float(np.partition(scores, len(scores) - k)[len(scores) - k]) if len(scores) >= k else -math.inf
            a_last = float(got.raw.min()) + 1e-6  # slack for the store's float32 ranking
            fetched = dict(zip(*np.unique(langs, return_counts=True), strict=True))
            open_langs = [x for x in doc_langs if fetched.get(x, 0) < stats.passages[x].count]
            if all(fix.bound(x, a_last) < kth for x in open_langs):
                return [got]
            n = min(total, 2 * n)

    def _search_per_language(
        self,
        stats: LanguageStats,
        search_vec: np.ndarray,
        k: int,
        doc_langs: list[str],
        fix: _Correction,
    ) -> list[_Scored]:
        """As :meth:`_search`, with one store query per language, each deepened on its own."""
        depth = {x: min(stats.passages[x].count, max(10, 2 * math.ceil(k / len(doc_langs)))) for x in doc_langs}
        fetched: dict[str, _Scored] = {}
        pending = list(doc_langs)
        while pending:
            for lang in pending:
                ids, vectors, langs = self.store.nearest_vectors(search_vec, depth[lang], [lang])
                fetched[lang] = _Scored(ids, vectors, fix.score(vectors, langs), vectors @ search_vec)
            scores = np.concatenate([x.scores for x in fetched.values()])
            kth = float(np.partition(scores, len(scores) - k)[len(scores) - k]) if len(scores) >= k else -math.inf
            pending = []
            for lang in doc_langs:
                got, count = fetched[lang], stats.passages[lang].count
                if len(got.ids) < depth[lang] or depth[lang] >= count:
                    continue  # the language is exhausted: everything it has was scored
                if fix.bound(lang, float(got.raw.min()) + 1e-6) >= kth:
                    depth[lang] = min(count, depth[lang] * 2)
                    pending.append(lang)
        return list(fetched.values())

    # -- center ---------------------------------------------------------------------

    def _centred_query(self, stats: LanguageStats, vec: np.ndarray, qlang: str | None) -> np.ndarray:
        """The query minus its language's mean (:func:`query_mean`), unit length."""
        mq, _ = query_mean(stats, qlang, min_served=self.min_served)
        u = vec - mq if mq is not None else vec.copy()
        norm = float(np.linalg.norm(u))
        if norm < _EPS:  # the query is its language's mean: nothing to rank by but the raw vector
            u, norm = vec.copy(), float(np.linalg.norm(vec))
        return u / norm

    def _center(
        self, stats: LanguageStats, vec: np.ndarray, qlang: str | None, k: int, doc_langs: list[str]
    ) -> list[_Scored]:
        u = self._centred_query(stats, vec, qlang)
        centres = {lang: centre_of(stats, lang, self.shrink) for lang in doc_langs}
        offsets = {lang: float(u @ c) for lang, c in centres.items()}
        radii = {}
        for lang in doc_langs:
            m = stats.passages[lang]
            drift = float(np.linalg.norm(centres[lang] - m.ref))
            radii[lang] = (max(m.r_lo - drift, _EPS), m.r_hi + drift)

        def score(vectors: np.ndarray, langs: np.ndarray) -> np.ndarray:
            centred = vectors - np.stack([centres[x] for x in langs]) if len(langs) else vectors
            return centred @ u / np.maximum(np.linalg.norm(centred, axis=1), _EPS)

        def bound(lang: str, a: float) -> float:
            # u.(p - c) / |p - c| with u.p <= a and |p - c| within the language's radius bounds
            gap = a - offsets[lang]
            lo, hi = radii[lang]
            return gap / lo if gap > 0 else gap / hi

        return self._search(stats, u, k, doc_langs, _Correction(score, bound))

    # -- center-zscore --------------------------------------------------------------

    def _center_zscore(
        self, stats: LanguageStats, vec: np.ndarray, qlang: str | None, k: int, doc_langs: list[str]
    ) -> list[_Scored]:
        u = self._centred_query(stats, vec, qlang)
        refs = {lang: stats.passages[lang].ref for lang in doc_langs}
        offsets = {lang: float(u @ c) for lang, c in refs.items()}
        mean, scale = {}, {}
        for lang in doc_langs:
            mean[lang], sd = _direction_scale(stats.passages[lang], u)
            scale[lang] = 1.0 / sd if sd > 1e-6 else 0.0  # no spread (one passage): the language scores 0

        def score(vectors: np.ndarray, langs: np.ndarray) -> np.ndarray:
            out = np.zeros(len(langs))
            for lang in set(langs.tolist()):
                rows = langs == lang
                out[rows] = (directions(vectors[rows], refs[lang]) @ u - mean[lang]) * scale[lang]
            return out

        def bound(lang: str, a: float) -> float:
            # the centred cosine's bound as for center (the radius bounds are around this very
            # reference point, so without drift), then the language's increasing affine map
            gap = a - offsets[lang]
            m = stats.passages[lang]
            cos = gap / max(m.r_lo, _EPS) if gap > 0 else gap / max(m.r_hi, _EPS)
            return (min(cos, 1.0) - mean[lang]) * scale[lang]

        return self._search(stats, u, k, doc_langs, _Correction(score, bound))

    # -- zscore ---------------------------------------------------------------------

    def _zscore(self, stats: LanguageStats, vec: np.ndarray, k: int, doc_langs: list[str]) -> list[_Scored]:
        v = vec / max(float(np.linalg.norm(vec)), _EPS)
        mean, std = {}, {}
        for lang in doc_langs:
            m = stats.passages[lang]
            mean[lang] = float(v @ m.mean)
            std[lang] = math.sqrt(max(float(v @ m.covariance() @ v), 0.0))

        # a language with one passage (or identical ones) has no spread: its passages score 0
        scale = {lang: 1.0 / sd if sd > 1e-6 else 0.0 for lang, sd in std.items()}

        def score(vectors: np.ndarray, langs: np.ndarray) -> np.ndarray:
            mu = np.array([mean[x] for x in langs], dtype=np.float64)
            sc = np.array([scale[x] for x in langs], dtype=np.float64)
            return (vectors @ v - mu) * sc

        return self._search(stats, v, k, doc_langs, _Correction(score, lambda lang, a: (a - mean[lang]) * scale[lang]))


def _direction_scale(m: PassageMoments, u: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of ``u . n`` over a language's unit directions ``n`` (exact, from moments)."""
    mean, cov = m.direction_moments()
    return float(u @ mean), math.sqrt(max(float(u @ cov @ u), 0.0))


@dataclass
class _Correction:
    """A correction as the exact search needs it: scores for fetched vectors, a bound for unfetched ones."""

    score: Callable[[np.ndarray, np.ndarray], np.ndarray]
    bound: Callable[[str, float], float]


@dataclass
class _Scored:
    """One language's fetched passages: ids, stored vectors, exact scores, raw similarity to the search vector."""

    ids: np.ndarray
    vectors: np.ndarray
    scores: np.ndarray
    raw: np.ndarray

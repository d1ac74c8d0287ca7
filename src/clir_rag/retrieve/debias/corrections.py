"""The language-bias corrections, one class each: the corrected score, its bound and its matrix form.

A correction is fitted to one query over some document languages and then gives its formula in the
three forms the two exact searches need (:class:`Correction`). The in-memory search
(:mod:`~clir_rag.retrieve.debias.retriever`) scores every stored row with :meth:`Correction.matrix`;
the search above the exact-search limit (:mod:`~clir_rag.retrieve.debias.search`) rescores fetched
passages with :meth:`Correction.score` and stops deepening by :meth:`Correction.bound`. A new
correction is one subclass here, registered in :data:`CORRECTIONS` under a name of
:data:`clir_rag.types.Debias`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from clir_rag.retrieve.debias.means import DEFAULT_MIN_SERVED, DEFAULT_SHRINK, EPS, centre_of, centred_query
from clir_rag.store.matrix import Refine, VectorMatrix
from clir_rag.store.stats import LanguageStats, PassageMoments, directions

# A language whose scores spread less than this has no spread (one passage, or identical ones): the
# z-score would divide by rounding noise, so its passages all score 0.
_NO_SPREAD = 1e-6


@dataclass
class MatrixScores:
    """A correction's scores of every row of a :class:`~clir_rag.store.matrix.VectorMatrix`.

    ``scores`` is ``-inf`` on rows outside the fitted languages. Where the scores are a float32
    shortlist, ``refine(rows)`` rescores chosen rows exactly (see
    :meth:`~clir_rag.store.matrix.VectorMatrix.top`). ``cosine``: the raw cosines in float64 where
    the correction computed them (else the search reports its own float32 ones).
    """

    scores: np.ndarray
    refine: Refine | None = None
    cosine: np.ndarray | None = None


class Correction(ABC):
    """A language-bias correction of dense scores, fitted to one query over the document languages ``langs``.

    ``query`` is the query's raw embedding, ``query_lang`` its language (None: unknown); ``shrink``
    and ``min_served`` choose the reference points (:func:`~clir_rag.retrieve.debias.means.centre_of`,
    :func:`~clir_rag.retrieve.debias.means.query_mean`). A subclass sets :attr:`name` and implements
    :meth:`_fit` and the three forms of its formula; the forms must agree, which the tests check.
    """

    name: ClassVar[str]

    def __init__(
        self,
        stats: LanguageStats,
        query: np.ndarray,
        query_lang: str | None,
        langs: Sequence[str],
        *,
        shrink: float = DEFAULT_SHRINK,
        min_served: int = DEFAULT_MIN_SERVED,
    ) -> None:
        self.stats = stats
        self.langs = list(langs)
        self.shrink = shrink
        self.min_served = min_served
        #: the vector the store's nearest-neighbour search is asked with; :meth:`bound` takes raw similarities to it
        self.search_vector = self._fit(np.asarray(query, dtype=np.float64), query_lang)

    @abstractmethod
    def _fit(self, query: np.ndarray, query_lang: str | None) -> np.ndarray:
        """Compute what the formula needs for this query and these languages; return the search vector."""

    @abstractmethod
    def score(self, vectors: np.ndarray, langs: np.ndarray) -> np.ndarray:
        """The corrected scores of passages given their float64 ``vectors`` and languages (all in ``self.langs``)."""

    @abstractmethod
    def bound(self, lang: str, a: float) -> float:
        """An upper bound on :meth:`score` for any passage of ``lang`` with a raw similarity of at most ``a``.

        ``a`` is the passage's similarity to :attr:`search_vector`, not to the raw query.

        The search above the exact-search limit stops deepening a language once its bound at the last
        similarity fetched is below the k-th score: no passage left unfetched could enter the top k.
        """

    @abstractmethod
    def matrix(self, m: VectorMatrix) -> MatrixScores:
        """:meth:`score` of every row of ``m`` at once, without a row-sized copy of the matrix."""

    def _known(self, names: Sequence[str]) -> list[str]:
        """The matrix's languages (``names``, its sorted language codes) that this correction was fitted to."""
        return [lang for lang in names if lang in self.langs]


class _PerLanguageZ:
    """The increasing affine map ``(s - mean[lang]) / sd[lang]`` of each language (0 without spread)."""

    def __init__(self, mean: dict[str, float], sd: dict[str, float]) -> None:
        self.mean = mean
        self.scale = {lang: 1.0 / x if x > _NO_SPREAD else 0.0 for lang, x in sd.items()}

    def of(self, s: float, lang: str) -> float:
        return (s - self.mean[lang]) * self.scale[lang]

    def array(self, s: np.ndarray, lang: str) -> np.ndarray:
        return (s - self.mean[lang]) * self.scale[lang]

    def rows(self, s: np.ndarray, langs: np.ndarray) -> np.ndarray:
        """Each row's ``s`` mapped by its own language's map."""
        mu = np.array([self.mean[x] for x in langs], dtype=np.float64)
        sc = np.array([self.scale[x] for x in langs], dtype=np.float64)
        return (s - mu) * sc


class Center(Correction):
    """``cos(q - mu[lang(q)], p - mu[lang(p)])``: the centred cosine (Libovický et al., 2020).

    Every passage minus its language's mean passage embedding (:func:`~clir_rag.retrieve.debias.means.centre_of`,
    shrunk toward the mean of all passages by ``shrink``), the query minus its language's mean
    (:func:`~clir_rag.retrieve.debias.means.query_mean`). The score is not increasing in the raw
    cosine within a language (the passage norm after centring varies), so the bound uses the
    language's stored radius bounds on ``|p - mu|``.
    """

    name = "center"

    def _fit(self, query: np.ndarray, query_lang: str | None) -> np.ndarray:
        self.u = centred_query(self.stats, query, query_lang, min_served=self.min_served)
        self.centres = {lang: centre_of(self.stats, lang, self.shrink) for lang in self.langs}
        self.offsets = {lang: float(self.u @ c) for lang, c in self.centres.items()}
        self.radii = {}
        for lang in self.langs:
            m = self.stats.passages[lang]
            # the radius bounds are around the reference point; the centre may have drifted from it since
            drift = float(np.linalg.norm(self.centres[lang] - m.ref))
            self.radii[lang] = (max(m.r_lo - drift, EPS), m.r_hi + drift)
        return self.u

    def score(self, vectors: np.ndarray, langs: np.ndarray) -> np.ndarray:
        """The centred cosines, in float64."""
        centred = vectors - np.stack([self.centres[x] for x in langs]) if len(langs) else vectors
        return centred @ self.u / np.maximum(np.linalg.norm(centred, axis=1), EPS)

    def bound(self, lang: str, a: float) -> float:
        """``u.(p - c) / |p - c|`` at its largest with ``u.p <= a`` and ``|p - c|`` within the radius bounds."""
        gap = a - self.offsets[lang]
        lo, hi = self.radii[lang]
        return gap / lo if gap > 0 else gap / hi

    def matrix(self, m: VectorMatrix) -> MatrixScores:
        """Float32 products that only shortlist, refined by :meth:`score`.

        ``|p - c|^2 = |p|^2 - 2 p.c + |c|^2`` for unit rows ``p``: one product with the query and one
        with the language centres, and no centred copy of the matrix.
        """
        u = self.u
        names, codes = m.language_codes()
        known = self._known(names)
        centres = np.stack([self.centres[lang] for lang in known]) if known else np.zeros((0, len(u)))
        pu = (m.vectors @ u.astype(np.float32)).astype(np.float64)
        pc = (m.vectors @ centres.T.astype(np.float32)).astype(np.float64)  # rows x languages
        scores = np.full(len(m), -np.inf)
        for j, lang in enumerate(known):
            rows = codes == names.index(lang)
            c = centres[j]
            sq = np.maximum(1.0 - 2.0 * pc[rows, j] + float(c @ c), EPS * EPS)
            scores[rows] = (pu[rows] - float(u @ c)) / np.sqrt(sq)
        return MatrixScores(scores, lambda rows: self.score(m.vectors[rows].astype(np.float64), m.langs[rows]))


class ZScore(Correction):
    """``(s - mean_l(s)) / std_l(s)`` with ``s = cos(q, p)``, over *all* passages of ``p``'s language ``l``.

    Exact from the stored first and second moments of the language's passages. The score is
    increasing in the raw cosine within a language, so each language's top k suffice.
    """

    name = "zscore"

    def _fit(self, query: np.ndarray, query_lang: str | None) -> np.ndarray:
        self.v = query / max(float(np.linalg.norm(query)), EPS)
        mean, sd = {}, {}
        for lang in self.langs:
            m = self.stats.passages[lang]
            mean[lang] = float(self.v @ m.mean)
            sd[lang] = math.sqrt(max(float(self.v @ m.covariance() @ self.v), 0.0))
        self.z = _PerLanguageZ(mean, sd)
        return self.v

    def score(self, vectors: np.ndarray, langs: np.ndarray) -> np.ndarray:
        """Each raw cosine through its language's z-map."""
        return self.z.rows(vectors @ self.v, langs)

    def bound(self, lang: str, a: float) -> float:
        """The z-map of ``a`` itself: the score is increasing in the raw cosine."""
        return self.z.of(a, lang)

    def matrix(self, m: VectorMatrix) -> MatrixScores:
        """In float64 throughout: dividing by a language's small spread magnifies float32 rounding."""
        names, codes = m.language_codes()
        raw = m.vectors64 @ self.v
        scores = np.full(len(m), -np.inf)
        for i, lang in enumerate(names):
            if lang in self.langs:
                rows = codes == i
                scores[rows] = self.z.array(raw[rows], lang)
        return MatrixScores(scores, cosine=raw)


class CenterZScore(Correction):
    """:class:`Center`, then :class:`ZScore` on the centred cosines.

    With ``n_p = (p - c) / |p - c|`` (``c`` the reference point of ``p``'s language, its passage mean
    when the statistics were last tightened) and ``u`` the centred query as for :class:`Center`, the
    score is ``(u.n_p - mean_l(u.n)) / std_l(u.n)`` over all passages of ``p``'s language, exact from
    the stored moments of the directions ``n``. Centring removes the language direction; the z-score
    then puts every language's centred cosines on one scale (a probe on pooled XQuAD: +1.3 to +1.7
    nDCG@20 over ``center``, evals/README.md). The bound is :class:`Center`'s around the reference
    point (so without drift), mapped by the language's increasing z-map.
    """

    name = "center-zscore"

    def _fit(self, query: np.ndarray, query_lang: str | None) -> np.ndarray:
        self.u = centred_query(self.stats, query, query_lang, min_served=self.min_served)
        self.refs = {lang: self.stats.passages[lang].ref for lang in self.langs}
        self.offsets = {lang: float(self.u @ r) for lang, r in self.refs.items()}
        mean, sd = {}, {}
        for lang in self.langs:
            mean[lang], sd[lang] = _direction_scale(self.stats.passages[lang], self.u)
        self.z = _PerLanguageZ(mean, sd)
        return self.u

    def score(self, vectors: np.ndarray, langs: np.ndarray) -> np.ndarray:
        """Each passage's centred direction times the centred query, through its language's z-map."""
        out = np.zeros(len(langs))
        for lang in set(langs.tolist()):
            rows = langs == lang
            out[rows] = self.z.array(directions(vectors[rows], self.refs[lang]) @ self.u, lang)
        return out

    def bound(self, lang: str, a: float) -> float:
        """:class:`Center`'s bound around the reference point (no drift, at most 1), through the z-map."""
        gap = a - self.offsets[lang]
        m = self.stats.passages[lang]
        cos = gap / max(m.r_lo, EPS) if gap > 0 else gap / max(m.r_hi, EPS)
        return self.z.of(min(cos, 1.0), lang)

    def matrix(self, m: VectorMatrix) -> MatrixScores:
        """In float64 throughout, as for :class:`ZScore`.

        The centred cosine comes from products with the query and the reference points:
        ``|p - r|^2 = |p|^2 - 2 p.r + |r|^2``, without a centred copy of the matrix.
        """
        u = self.u
        names, codes = m.language_codes()
        known = self._known(names)
        vz = m.vectors64
        if "sqnorm64" not in m.memo:
            m.memo["sqnorm64"] = np.einsum("ij,ij->i", vz, vz)
        sqnorm: np.ndarray = m.memo["sqnorm64"]  # type: ignore[assignment]
        refs = np.stack([self.refs[lang] for lang in known]) if known else np.zeros((0, len(u)))
        pu, pr = vz @ u, vz @ refs.T  # rows, rows x languages
        scores = np.full(len(m), -np.inf)
        for j, lang in enumerate(known):
            rows = codes == names.index(lang)
            r = refs[j]
            sq = sqnorm[rows] - 2.0 * pr[rows, j] + float(r @ r)
            far = sq > 1e-18  # a passage at the reference point has no direction: it scores 0 there
            cos = np.where(far, (pu[rows] - float(u @ r)) / np.sqrt(np.where(far, sq, 1.0)), 0.0)
            scores[rows] = self.z.array(cos, lang)
        return MatrixScores(scores)


def _direction_scale(m: PassageMoments, u: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of ``u . n`` over a language's unit directions ``n`` (exact, from moments)."""
    mean, cov = m.direction_moments()
    return float(u @ mean), math.sqrt(max(float(u @ cov @ u), 0.0))


# Every correction by its name in clir_rag.types.Debias ("auto" and "none" are not corrections).
CORRECTIONS: dict[str, type[Correction]] = {c.name: c for c in (Center, ZScore, CenterZScore)}

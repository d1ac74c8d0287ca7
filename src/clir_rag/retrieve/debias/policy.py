"""The ``auto`` policy: which correction a query gets, decided from the index's statistics and contents."""

from __future__ import annotations

import numpy as np

from clir_rag.errors import InputError
from clir_rag.retrieve.debias.means import EPS, centre_of, query_mean
from clir_rag.store.matrix import VectorMatrix
from clir_rag.store.stats import LanguageStats
from clir_rag.types import DEBIAS_METHODS

# A collection of translations: a passage's best centred cosine with a passage in another language is
# about .7 when it has a translation there and .2-.35 when it has none (pooled and scattered XQuAD, the
# demo); auto takes center-zscore when at least half of a sample of passages have one.
TRANSLATION_COSINE = 0.5
TRANSLATION_SHARE = 0.5
TRANSLATION_SAMPLE = 300


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
        picked /= np.maximum(np.linalg.norm(picked, axis=1, keepdims=True), EPS)
        best = np.full(len(rows), -np.inf)
        for start in range(0, len(m), 8192):  # in blocks: no row-sized centred copy of a large matrix
            part = slice(start, start + 8192)
            block = m.vectors[part] - centres[codes[part]]
            block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), EPS)
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

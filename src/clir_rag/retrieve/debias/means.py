"""The reference points of centring: each language's passage centre, and the mean subtracted from a query."""

from __future__ import annotations

from typing import Literal

import numpy as np

from clir_rag.store.stats import LanguageStats

QuerySource = Literal["calibration", "served", "passages", "global", "none"]

# Below this many passages a language's own mean is mostly topic, not language: shrink it toward the
# mean of all passages (a language with one passage would otherwise centre it to the zero vector).
DEFAULT_SHRINK = 10.0
# A running mean of served queries is used only once it averages this many queries.
DEFAULT_MIN_SERVED = 50
# A norm below this is zero: nothing is divided by it.
EPS = 1e-9


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


def centred_query(
    stats: LanguageStats, vec: np.ndarray, lang: str | None, *, min_served: int = DEFAULT_MIN_SERVED
) -> np.ndarray:
    """The query minus its language's mean (:func:`query_mean`), unit length."""
    mq, _ = query_mean(stats, lang, min_served=min_served)
    u = vec - mq if mq is not None else vec.copy()
    norm = float(np.linalg.norm(u))
    if norm < EPS:  # the query is its language's mean: nothing to rank by but the raw vector
        u, norm = vec.copy(), float(np.linalg.norm(vec))
    return u / norm

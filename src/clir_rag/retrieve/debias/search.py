"""Exact corrected search above the store's exact-search limit: the store's nearest neighbours, deepened by a bound.

Chroma cannot rank by a corrected score, so the search is exact by a bound, not approximate: passages
are fetched by raw similarity to the correction's search vector and rescored from their stored vectors
(:meth:`~clir_rag.retrieve.debias.corrections.Correction.score`). Unfetched passages have a raw
similarity no larger than the last one fetched, so once every language's
:meth:`~clir_rag.retrieve.debias.corrections.Correction.bound` at that similarity is below the k-th
corrected score, no unfetched passage can enter the top k. The candidates returned, their order and
their scores are those a brute-force computation over the fetched languages gives (given the vector
store's own nearest-neighbour search).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from clir_rag.retrieve.debias.corrections import Correction
from clir_rag.retrieve.debias.means import EPS
from clir_rag.store.chroma import ChromaStore
from clir_rag.store.stats import LanguageStats
from clir_rag.types import ScoredCandidate

# Slack on the last raw similarity fetched, for the store's float32 ranking.
_SLACK = 1e-6


@dataclass
class Scored:
    """Fetched passages: ids, stored vectors, exact corrected scores, raw similarity to the search vector."""

    ids: np.ndarray
    vectors: np.ndarray
    scores: np.ndarray
    raw: np.ndarray


def bound_search(
    store: ChromaStore, stats: LanguageStats, fix: Correction, k: int, doc_langs: list[str]
) -> list[Scored]:
    """Fetch the nearest passages by raw similarity to ``fix.search_vector``, deepening until exact.

    One unfiltered store query per round is far cheaper than a filtered query per language; after two
    rounds, or once a round would fetch over a quarter of the passages, each language goes on alone
    (:func:`_per_language`).
    """
    search_vec = fix.search_vector
    total = sum(stats.passages[lang].count for lang in doc_langs)
    only = None if len(doc_langs) == len(stats.passages) else doc_langs
    n = min(total, max(40, 4 * k))
    rounds = 0
    while True:
        if len(doc_langs) > 1 and (4 * n > total or rounds == 2):
            # deep: a search per language, each deepened on its own, fetches less than a global
            # search that must reach the least favoured language (measured, benchmarks/README.md)
            return _per_language(store, stats, fix, k, doc_langs)
        rounds += 1
        ids, vectors, langs = store.nearest_vectors(search_vec, n, only)
        scores = fix.score(vectors, langs)
        got = Scored(ids, vectors, scores, vectors @ search_vec)
        if len(ids) < n or n >= total:
            return [got]  # every passage of these languages was scored
        kth = _kth(scores, k)
        a_last = float(got.raw.min()) + _SLACK
        fetched = dict(zip(*np.unique(langs, return_counts=True), strict=True))
        open_langs = [x for x in doc_langs if fetched.get(x, 0) < stats.passages[x].count]
        if all(fix.bound(x, a_last) < kth for x in open_langs):
            return [got]
        n = min(total, 2 * n)


def _per_language(
    store: ChromaStore, stats: LanguageStats, fix: Correction, k: int, doc_langs: list[str]
) -> list[Scored]:
    """As :func:`bound_search`, with one store query per language, each deepened on its own."""
    search_vec = fix.search_vector
    depth = {x: min(stats.passages[x].count, max(10, 2 * math.ceil(k / len(doc_langs)))) for x in doc_langs}
    fetched: dict[str, Scored] = {}
    pending = list(doc_langs)
    while pending:
        for lang in pending:
            ids, vectors, langs = store.nearest_vectors(search_vec, depth[lang], [lang])
            fetched[lang] = Scored(ids, vectors, fix.score(vectors, langs), vectors @ search_vec)
        kth = _kth(np.concatenate([x.scores for x in fetched.values()]), k)
        pending = []
        for lang in doc_langs:
            got, count = fetched[lang], stats.passages[lang].count
            if len(got.ids) < depth[lang] or depth[lang] >= count:
                continue  # the language is exhausted: everything it has was scored
            if fix.bound(lang, float(got.raw.min()) + _SLACK) >= kth:
                depth[lang] = min(count, depth[lang] * 2)
                pending.append(lang)
    return list(fetched.values())


def _kth(scores: np.ndarray, k: int) -> float:
    """The k-th best of ``scores`` (-inf when there are fewer than k)."""
    return float(np.partition(scores, len(scores) - k)[len(scores) - k]) if len(scores) >= k else -math.inf


def top_candidates(store: ChromaStore, scored: list[Scored], vec: np.ndarray, k: int) -> list[ScoredCandidate]:
    """The top ``k`` of the scored passages with texts and metadata: fetched once, after the exact scores are known.

    Each candidate's ``cosine`` metadata is its uncorrected similarity to the query ``vec``, for comparison.
    """
    ids = np.concatenate([x.ids for x in scored]) if scored else np.array([], dtype=object)
    scores = np.concatenate([x.scores for x in scored]) if scored else np.zeros(0)
    vectors = np.concatenate([x.vectors for x in scored]) if scored else np.zeros((0, len(vec)))
    order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:k]
    stored = store.get([str(ids[i]) for i in order])
    cos = vectors @ vec / max(float(np.linalg.norm(vec)), EPS)
    out = []
    for i in order:
        c = stored.get(str(ids[i]))
        if c is None:  # removed between the search and the fetch (another writer)
            continue
        c.score = float(scores[i])
        c.metadata["cosine"] = float(cos[i])
        out.append(c)
    return out

"""Dense retrieval corrected for language bias: centred cosine or per-language z-scores, exact.

A multilingual bi-encoder ranks passages in the query's own language first,
whatever their relevance: on pooled XQuAD (12 languages) Chinese questions
get top-20 lists that are 97% Chinese. Three training-free corrections, one
class each in :mod:`~clir_rag.retrieve.debias.corrections`:

``center`` (:class:`Center`)
    ``cos(q - mu[lang(q)], p - mu[lang(p)])``: every passage minus its
    language's mean passage embedding, the query minus its language's mean
    (Libovický et al., 2020). Where the query-side mean comes from is
    resolved by :func:`query_mean` in this order, chosen by measurement
    (evals/README.md): calibration queries in the query's language (stored
    with :meth:`~clir_rag.index.CrossLingualIndex.calibrate`); the running
    mean of served queries (opt-in, at least ``min_served`` of them); the
    index's passages in the query's language; the mean of all passages when
    the index holds several languages; otherwise the query is not centred.
``zscore`` (:class:`ZScore`)
    ``(s - mean_l(s)) / std_l(s)`` with ``s = cos(q, p)``, the mean and the
    standard deviation taken over *all* passages of ``p``'s language,
    computed exactly from the stored first and second moments.
``center-zscore`` (:class:`CenterZScore`)
    ``center``, then ``zscore`` on the centred cosines, exact from the stored
    moments of each language's centred directions.

``auto`` (:func:`resolve_auto`, in :mod:`~clir_rag.retrieve.debias.policy`) picks one per
index and query. :class:`DebiasedDenseRetriever` searches exactly either way: below the
store's exact-search limit every passage is scored in memory; above it the store's nearest
neighbours are deepened until the correction's bound proves the top k
(:mod:`~clir_rag.retrieve.debias.search`).
"""

from clir_rag.retrieve.debias.corrections import CORRECTIONS, Center, CenterZScore, Correction, MatrixScores, ZScore
from clir_rag.retrieve.debias.means import (
    DEFAULT_MIN_SERVED,
    DEFAULT_SHRINK,
    QuerySource,
    centre_of,
    centred_query,
    query_mean,
)
from clir_rag.retrieve.debias.policy import (
    TRANSLATION_COSINE,
    TRANSLATION_SAMPLE,
    TRANSLATION_SHARE,
    check_debias,
    resolve_auto,
    translation_share,
)
from clir_rag.retrieve.debias.retriever import DebiasedDenseRetriever
from clir_rag.types import DEBIAS_METHODS, Debias

__all__ = [
    "CORRECTIONS",
    "DEBIAS_METHODS",
    "DEFAULT_MIN_SERVED",
    "DEFAULT_SHRINK",
    "TRANSLATION_COSINE",
    "TRANSLATION_SAMPLE",
    "TRANSLATION_SHARE",
    "Center",
    "CenterZScore",
    "Correction",
    "Debias",
    "DebiasedDenseRetriever",
    "MatrixScores",
    "QuerySource",
    "ZScore",
    "centre_of",
    "centred_query",
    "check_debias",
    "query_mean",
    "resolve_auto",
    "translation_share",
]

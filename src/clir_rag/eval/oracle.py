"""The oracle reranker and the potential reranking improvement (PRI).

The oracle sorts a first stage's top ``depth`` candidates by their relevance
in the qrels (ties keep the first-stage order) and leaves the rest as they
were: the best any reranker of that depth can do with those candidates.
PRI is the share of the gap between first stage and oracle that a reranker
closes: ``(reranked - first) / (oracle - first)``; 1.0 is the ceiling,
negative means the reranker made things worse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from clir_rag.deprecation import renamed
from clir_rag.eval.metrics import Qrels


def oracle_ranked(
    ranked: Mapping[str, Sequence[tuple[str, float]]], qrels: Qrels, depth: int
) -> dict[str, list[tuple[str, float]]]:
    """Ranked lists with each query's top ``depth`` sorted by relevance grade."""
    out: dict[str, list[tuple[str, float]]] = {}
    for qid, docs in ranked.items():
        grades = qrels.get(qid, {})
        head = sorted(enumerate(docs[:depth]), key=lambda x: (-max(grades.get(x[1][0], 0), 0), x[0]))
        out[qid] = [d for _, d in head] + list(docs[depth:])
    return out


def share_of_oracle_gain(first: float, reranked: float, oracle: float) -> float | None:
    """PRI: the share of the oracle's gain over the first stage that a reranker realises.

    ``(reranked - first) / (oracle - first)``; None when the oracle gains nothing.
    """
    gap = oracle - first
    if gap <= 1e-12:
        return None
    return (reranked - first) / gap


_RENAMED = {"pri": "clir_rag.eval.oracle.share_of_oracle_gain"}  # the name before 0.2, kept for one release


def __getattr__(name: str) -> Any:
    return renamed(__name__, name, _RENAMED)

"""Scoring runs with ir_measures (trec_eval semantics), keeping per-query values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from clir_rag.types import Ranking

Run = dict[str, dict[str, float]]
Qrels = Mapping[str, Mapping[str, int]]


def ranking_to_run(rankings: Iterable[Ranking]) -> Run:
    """``{query id: {doc id: score}}``, using document ids (MaxP when passages repeat a document)."""
    run: Run = {}
    for r in rankings:
        docs: dict[str, float] = {}
        for c in r.candidates:
            docs.setdefault(c.doc_id, c.score)
        run[r.query.id] = docs
    return run


def evaluate(
    run: Run, qrels: Qrels, measures: Sequence[str] = ("nDCG@20", "RR@10")
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean and per-query values of ``measures`` (ir_measures names; ``RR@10`` is MRR@10).

    Queries in the qrels but missing from the run count as 0 (trec_eval ``-c``).
    """
    try:
        import ir_measures
    except ImportError as e:
        raise ImportError("evaluation needs the [eval] extra: pip install 'clir-rag[eval]'") from e

    parsed = [ir_measures.parse_measure(m) for m in measures]
    per_query: dict[str, dict[str, float]] = {qid: {str(m): 0.0 for m in parsed} for qid in qrels}
    for metric in ir_measures.iter_calc(parsed, {q: dict(d) for q, d in qrels.items()}, run):
        if metric.query_id in per_query:
            per_query[metric.query_id][str(metric.measure)] = float(metric.value)
    n = max(len(per_query), 1)
    means = {str(m): sum(v[str(m)] for v in per_query.values()) / n for m in parsed}
    return means, per_query

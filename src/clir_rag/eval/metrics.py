"""Scoring runs with ir_measures (trec_eval semantics), keeping per-query values, and paired t-tests."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

# re-exported: an eval config's default measures, defined with the config (it must not import clir_rag.eval)
from clir_rag.config import DEFAULT_MEASURES as DEFAULT_MEASURES
from clir_rag.errors import InputError, missing_extra
from clir_rag.types import Ranking, Run

# What ir_measures scores: {query id: {doc id: score}}. Runs are passed as clir_rag.types.Run;
# this is only the view the measures read.
Scores = dict[str, dict[str, float]]
Qrels = Mapping[str, Mapping[str, int]]
PerQuery = dict[str, dict[str, float]]


def ranking_to_run(rankings: Iterable[Ranking]) -> Scores:
    """``{query id: {doc id: score}}``, using document ids (MaxP when passages repeat a document)."""
    run: Scores = {}
    for r in rankings:
        docs: dict[str, float] = {}
        for c in r.candidates:
            docs.setdefault(c.doc_id, c.score)
        run[r.query.id] = docs
    return run


def ordered_run(ranked: Mapping[str, Sequence[tuple[str, float]]]) -> Scores:
    """Scores from ranked lists (as :meth:`Run.lists` gives them), made strictly decreasing.

    trec_eval ranks by score and breaks ties by document id, not by the rank column, so ties
    (common after reranking or with integer scores) would silently reorder documents. Scores
    n..1 keep the given order exactly.
    """
    return {qid: {d: float(len(docs) - i) for i, (d, _) in enumerate(docs)} for qid, docs in ranked.items()}


def evaluate(
    run: Run | Mapping[str, Mapping[str, float]],
    qrels: Qrels,
    measures: Sequence[str] = ("nDCG@20", "RR@10"),
    *,
    unknown_queries: str = "error",
) -> tuple[dict[str, float], PerQuery]:
    """Mean and per-query values of ``measures`` (ir_measures names; ``RR@10`` is MRR@10, ``AP`` is MAP).

    Semantics are trec_eval's with ``-c``: a query in the qrels but missing from the run scores 0
    and counts in the mean. A query in the run but not in the qrels cannot be scored; trec_eval
    drops it silently, here it is an error naming the ids (``unknown_queries="ignore"`` to drop them).
    """
    try:
        import ir_measures
    except ImportError as e:
        raise missing_extra("evaluation", "eval", e) from e

    if not qrels:
        raise InputError("the qrels are empty: nothing to evaluate against")
    unknown = sorted(set(run) - set(qrels))
    if unknown and unknown_queries == "error":
        raise InputError(
            f"{len(unknown)} queries of the run are not in the qrels (e.g. {', '.join(unknown[:5])}); "
            "pass unknown_queries='ignore' to drop them as trec_eval does"
        )
    try:
        parsed = [ir_measures.parse_measure(m) for m in measures]
    except (ValueError, NameError, SyntaxError) as e:
        raise InputError(f"unknown measure in {list(measures)}: {e}") from None
    per_query: PerQuery = {qid: {str(m): 0.0 for m in parsed} for qid in qrels}
    scores = run.scores() if isinstance(run, Run) else run
    scored = {q: dict(d) for q, d in scores.items() if q in qrels}
    for metric in ir_measures.iter_calc(parsed, {q: dict(d) for q, d in qrels.items()}, scored):
        per_query[metric.query_id][str(metric.measure)] = float(metric.value)
    means = {str(m): sum(v[str(m)] for v in per_query.values()) / len(per_query) for m in parsed}
    return means, per_query


def paired_ttest(a: PerQuery, b: PerQuery, measure: str) -> float:
    """Two-sided paired t-test p-value of ``measure`` over the queries both runs were scored on.

    Identical per-query values give p = 1.0 (scipy returns NaN there: no variance, no difference).
    """
    from scipy.stats import ttest_rel

    common = sorted(set(a) & set(b))
    if len(common) < 2:
        return 1.0
    xs, ys = [a[q][measure] for q in common], [b[q][measure] for q in common]
    if all(x == y for x, y in zip(xs, ys, strict=True)):
        return 1.0
    p = float(ttest_rel(xs, ys).pvalue)
    return 1.0 if math.isnan(p) else p

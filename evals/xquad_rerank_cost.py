"""Cost of LLM reranking with the embedded model on a few XQuAD queries.

    python evals/xquad_rerank_cost.py --queries 5 --query-lang en --doc-lang de

English questions, German paragraphs, top-20 from the dense retriever, then
listwise (one window of 20) and pairwise (PRP heap top-10 over 20, log-prob
mode) with the embedded Qwen2.5-Coder-0.5B-Instruct GGUF in-process. Reports
calls, prompt/completion tokens and seconds per query, nDCG@10 before and
after, and then reruns everything against the same cache: the second run
should make no calls at all.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from clir_rag.eval import evaluate, load_xquad, ranking_to_run
from clir_rag.index import CrossLingualIndex
from clir_rag.llm import LLMClient, Usage, default_llm
from clir_rag.rerank import ListwiseReranker, PairwiseReranker


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=5)
    ap.add_argument("--query-lang", default="en")
    ap.add_argument("--doc-lang", default="de")
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--work", type=Path, default=Path("runs/xquad"))
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--only", choices=["listwise", "pairwise"], default=None, help="run one reranker only")
    args = ap.parse_args()

    data = load_xquad(args.query_lang, args.doc_lang, args.data, limit=args.queries)
    index = CrossLingualIndex(args.work / f"xquad-{args.doc_lang}")
    index.add(data.documents, progress=True)
    dense = index.retriever("dense", documents="maxp")
    first = [dense.retrieve(q, args.depth) for q in data.queries]
    base, _ = evaluate(ranking_to_run(first), data.qrels, ("nDCG@10",))

    llm = default_llm(n_ctx=8192)
    results: dict[str, dict] = {"first stage": {"nDCG@10": base["nDCG@10"]}}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "llm-cache.sqlite"
        for name, make in {
            "listwise 20/10": lambda c: ListwiseReranker(c, window=20, step=10, depth=args.depth),
            "pairwise heap top-10 (logprob)": lambda c: PairwiseReranker(
                c, method="heap", mode="logprob", depth=args.depth, top_k=10
            ),
        }.items():
            if args.only and not name.startswith(args.only):
                continue
            for run in ("first run", "second run (cached)"):
                reranker = make(LLMClient(llm, cache=cache))
                total = Usage()
                t = time.perf_counter()
                reranked, failures = [], 0
                for ranking in first:
                    res = reranker.rerank(ranking)
                    reranked.append(res.ranking)
                    total.merge(res.report.usage)
                    failures += res.report.failures
                wall = time.perf_counter() - t
                m, _ = evaluate(ranking_to_run(reranked), data.qrels, ("nDCG@10",))
                n = len(first)
                results[f"{name}, {run}"] = {
                    "nDCG@10": m["nDCG@10"],
                    "calls/query": total.calls / n,
                    "prompt tokens/query": total.prompt_tokens / n,
                    "completion tokens/query": total.completion_tokens / n,
                    "seconds/query": wall / n,
                    "cache hit rate": total.cache_hit_rate,
                    "failures": failures,
                }
                print(name, run, results[f"{name}, {run}"], flush=True)
    print(f"\nXQuAD {args.query_lang}->{args.doc_lang}, {len(first)} queries, top-{args.depth} dense, embedded GGUF\n")
    print("| setting | nDCG@10 | calls/q | prompt tok/q | completion tok/q | s/q | cache hits | failures |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        if "calls/query" not in r:
            print(f"| {name} | {r['nDCG@10']:.4f} | | | | | | |")
            continue
        print(
            f"| {name} | {r['nDCG@10']:.4f} | {r['calls/query']:.1f} | {r['prompt tokens/query']:.0f} | "
            f"{r['completion tokens/query']:.0f} | {r['seconds/query']:.2f} | {r['cache hit rate']:.0%} | "
            f"{r['failures']} |"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

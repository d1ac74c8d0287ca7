"""Collect the language-bias tables of evals/README.md from finished `clir-rag eval` runs.

    for c in xquad-{en,de,zh}-pooled-{debias,hybrid} xquad-{en-de,en-zh,en-th,de-en}-query-centering; do
        clir-rag eval evals/$c.yaml; done
    python evals/debias_tables.py [--runs runs/eval]

Prints, per query language (pooled) and per language pair (one document language), each
first-stage run's nDCG@20, R@100, MRR@10, the largest language share of the top 20, the
query language's share and MRC, read from each experiment's results.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", default="runs/eval")
    args = ap.parse_args()
    root = Path(args.runs)

    print("| query language | run | nDCG@20 | R@100 | MRR@10 | largest share (top 20) | own-language share | MRC |")
    print("|---|---|---|---|---|---|---|---|")
    for lang in ("en", "de", "zh"):
        runs = []
        for kind in ("debias", "hybrid"):  # the hybrid runs share the index and questions of the debias ones
            file = root / f"xquad-{lang}-pooled-{kind}" / "results.json"
            if file.exists():
                data = json.loads(file.read_text(encoding="utf-8"))
                runs += data["runs"]
        for run in runs:
            if run["kind"] != "first":
                continue
            share = run.get("language_share", {})
            top = max(share, key=share.get) if share else "?"
            mrc = run.get("mrc", {}).get("mean")
            m = run["means"]
            print(
                f"| {lang} ({data['queries']} q) | {run['name']} | {m['nDCG@20']:.4f} | {m['R@100']:.4f} | "
                f"{m['RR@10']:.4f} | {share.get(top, 0):.3f} ({top}) | {run.get('own_language_share', 0):.3f} | "
                f"{'' if mrc is None else f'{mrc:.4f}'} |"
            )
    print()
    print("| pair | run | nDCG@20 | R@100 | MRR@10 |")
    print("|---|---|---|---|---|")
    for pair in ("en-de", "en-zh", "en-th", "de-en"):
        file = root / f"xquad-{pair}-query-centering" / "results.json"
        if not file.exists():
            continue
        data = json.loads(file.read_text(encoding="utf-8"))
        for run in data["runs"]:
            m = run["means"]
            cells = " | ".join(f"{m[x]:.4f}" for x in ("nDCG@20", "R@100", "RR@10"))
            print(f"| {pair} ({data['queries']} q) | {run['name']} | {cells} |")


if __name__ == "__main__":
    main()

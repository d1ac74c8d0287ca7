"""Collect the language-bias tables of evals/README.md from finished `clir-rag eval` runs.

    for l in en de zh; do
        for c in pooled-debias pooled-hybrid pooled-articles-debias scattered-debias \\
                pooled-title-{newline,dot} pooled-articles-title-{newline,dot}; do
            clir-rag eval evals/xquad-$l-$c.yaml; done; done
    for p in en-en en-de en-zh en-th de-en; do clir-rag eval evals/xquad-$p-query-centering.yaml; done
    python evals/debias_tables.py [--runs runs/eval]

Prints, for the three multilingual benchmarks (XQuAD paragraphs and articles pooled in 12 languages,
where every answer exists in every language; paragraphs scattered one language each) and per query language, each
first-stage run's nDCG@20, R@100, MRR@10, the largest language share of the top 20, the query
language's share and MRC (paragraphs), with the run ``auto`` resolves to marked; then the title
formats side by side; then the one-language pairs (the cost of each method where there is no bias to
remove). Read from each experiment's results.json; a missing experiment is skipped.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

LANGS = ("en", "de", "zh")
PAIRS = ("en-en", "en-de", "en-zh", "en-th", "de-en")


def _load(root: Path, name: str) -> dict[str, Any] | None:
    file = root / name / "results.json"
    return json.loads(file.read_text(encoding="utf-8")) if file.exists() else None


def _first(data: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [r for r in (data or {}).get("runs", []) if r["kind"] == "first"]


def _row(label: str, run: dict[str, Any]) -> str:
    share = run.get("language_share", {})
    top = max(share, key=share.get) if share else "?"
    mrc = run.get("mrc", {}).get("mean")
    m = run["means"]
    name = run["name"] + (" (= auto)" if run.get("auto") else "")
    return (
        f"| {label} | {name} | {m['nDCG@20']:.4f} | {m['R@100']:.4f} | {m['RR@10']:.4f} | "
        f"{share.get(top, 0):.3f} ({top}) | {run.get('own_language_share', 0):.3f} | "
        f"{'' if mrc is None else f'{mrc:.4f}'} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", default="runs/eval")
    args = ap.parse_args()
    root = Path(args.runs)

    for title, kinds in (
        ("Pooled XQuAD paragraphs (2,880 documents, 1 relevant per language)", ("pooled-debias", "pooled-hybrid")),
        ("Pooled XQuAD articles (576 documents, 12 relevant)", ("pooled-articles-debias",)),
        ("Scattered XQuAD paragraphs (240 documents in 12 languages, 1 relevant)", ("scattered-debias",)),
    ):
        print(f"### {title}\n")
        print("| query language | run | nDCG@20 | R@100 | MRR@10 | largest share (top 20) | own-language share | MRC |")
        print("|---|---|---|---|---|---|---|---|")
        for lang in LANGS:
            seen: set[str] = set()
            for kind in kinds:  # the hybrid configs share the index and questions of the debias ones
                data = _load(root, f"xquad-{lang}-{kind}")
                for run in _first(data):
                    if run["name"] not in seen:
                        seen.add(run["name"])
                        print(_row(f"{lang} ({data['queries'] if data else '?'} q)", run))
        print()

    print("### Title formats: `newline` (title\\ntext) against `dot` (title. text), nDCG@20 / MRR@10\n")
    print("| benchmark | query language | run | newline | dot |")
    print("|---|---|---|---|---|")
    for bench, kind in (("titled paragraphs", "pooled"), ("articles", "pooled-articles")):
        for lang in LANGS:
            newline = {r["name"]: r for r in _first(_load(root, f"xquad-{lang}-{kind}-title-newline"))}
            for run in _first(_load(root, f"xquad-{lang}-{kind}-title-dot")):
                old = newline.get(run["name"])
                if old is None:
                    continue
                cells = [f"{r['means']['nDCG@20']:.4f} / {r['means']['RR@10']:.4f}" for r in (old, run)]
                print(f"| {bench} | {lang} | {run['name']} | {cells[0]} | {cells[1]} |")
    print()

    print("### One document language (XQuAD paragraphs, 240 documents)\n")
    print("| pair | run | nDCG@20 | R@100 | MRR@10 |")
    print("|---|---|---|---|---|")
    for pair in PAIRS:
        data = _load(root, f"xquad-{pair}-query-centering")
        for run in _first(data):
            m = run["means"]
            cells = " | ".join(f"{m[x]:.4f}" for x in ("nDCG@20", "R@100", "RR@10"))
            name = run["name"] + (" (= auto)" if run.get("auto") else "")
            print(f"| {pair} ({data['queries'] if data else '?'} q) | {name} | {cells} |")


if __name__ == "__main__":
    main()

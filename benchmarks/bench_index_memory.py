"""Peak memory of indexing and of the BM25 build, at two corpus sizes.

    python benchmarks/bench_index_memory.py [--sizes 50000 200000] [--words 60] [--server]

Synthetic passages (``--words`` words drawn from a 20,000-word list, one passage per
document, four languages' analyzers) are written as a JSONL corpus and indexed from it as
``clir-rag index`` does (``CrossLingualIndex.add(Corpus(path))``: checked in one pass, then
chunked, embedded and written shard by shard) with a cheap test encoder (hashed random
projections, 64 dimensions: the benchmark measures the index, not a model) in a fresh
process per size, which reports its peak RSS: the indexing driver's (``add`` reading,
checking, chunking, embedding and writing; its closing BM25 build is left to the next
process) and, in another fresh process over the finished index, the BM25 build's
(``rebuild_bm25``, streaming the stored passages). The ratio of the two sizes' peaks shows
how each grows with the corpus. Embedded Chroma keeps its HNSW graph in the driver's
memory; ``--server`` puts the vectors in a Chroma server (another process), leaving the
driver's own memory.

Writes ``benchmarks/results/index_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LANGS = ["en", "de", "fr", "sw"]


class HashEncoder:
    """A cheap deterministic encoder: each word a fixed random vector, a text their normalised sum."""

    spec, dim = "hash64", 64

    def __init__(self) -> None:
        self.table = np.random.default_rng(0).standard_normal((1 << 16, self.dim)).astype(np.float32)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            rows = [zlib.crc32(w.encode()) & 0xFFFF for w in text.split()]
            out[i] = self.table[rows].sum(axis=0)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    encode_passages = encode_queries = _encode

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def documents(n: int, words: int):
    from clir_rag.types import Document

    rng = np.random.default_rng(n)
    vocab = [f"w{i:05d}{'abcdefghij'[i % 10]}" for i in range(20_000)]
    zipf = np.minimum(rng.zipf(1.2, size=(n, words)) - 1, len(vocab) - 1)
    for i in range(n):
        yield Document(id=f"d{i}", text=" ".join(vocab[j] for j in zipf[i]), lang=LANGS[i % len(LANGS)])


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def write_corpus(path: Path, n: int, words: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for doc in documents(n, words):
            fh.write(json.dumps({"id": doc.id, "text": doc.text, "lang": doc.lang}) + "\n")


def child(mode: str, path: str, n: int, words: int, url: str) -> None:
    from clir_rag.corpus import Corpus
    from clir_rag.index import CrossLingualIndex

    sys.modules.setdefault("bench_index_memory", sys.modules[__name__])
    server = {"chroma_url": url} if url != "-" else {}
    index = CrossLingualIndex(path, encoder=HashEncoder(), max_tokens=words + 16, overlap=0, **server)
    t = time.perf_counter()
    if mode == "index":
        # the BM25 build that ends a run is measured on its own, in the next process
        index.rebuild_bm25 = lambda: None  # type: ignore[method-assign, assignment, return-value]
        stats = index.add(Corpus(Path(path).with_suffix(".jsonl")), batch_size=256, progress=False)
        assert stats.embedded == n, stats
    else:
        assert len(index.rebuild_bm25()) == n
    print(json.dumps({"peak_rss_mib": peak_mib(), "seconds": time.perf_counter() - t}))


def run(mode: str, path: Path, n: int, words: int, url: str | None) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path), str(n), str(words), url or "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000])
    parser.add_argument("--words", type=int, default=60)
    parser.add_argument("--server", action="store_true", help="vectors in a Chroma server, not embedded Chroma")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, path, n, words, url = args.child
        child(mode, path, int(n), int(words), url)
        return
    results: dict = {"words_per_passage": args.words, "chroma": "server" if args.server else "embedded", "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="bench-mem-") as work, ExitStack() as server:
        url = None
        if args.server:
            from clir_rag.testing.servers import serving_chroma

            url, _ = server.enter_context(serving_chroma(Path(work) / "server", skip_if_missing=False))
        for n in args.sizes:
            path = Path(work) / f"idx{n}"
            write_corpus(path.with_suffix(".jsonl"), n, args.words)
            index = run("index", path, n, args.words, url)
            bm25 = run("bm25", path, n, args.words, url)
            results["sizes"][str(n)] = {"index": index, "bm25_build": bm25}
            print(
                f"{n} passages: indexing peak RSS {index['peak_rss_mib']:.0f} MiB ({index['seconds']:.0f}s), "
                f"BM25 build peak RSS {bm25['peak_rss_mib']:.0f} MiB ({bm25['seconds']:.0f}s)"
            )
    if len(args.sizes) > 1:
        lo, hi = (results["sizes"][str(n)] for n in (min(args.sizes), max(args.sizes)))
        results["growth"] = {
            "corpus": max(args.sizes) / min(args.sizes),
            "indexing_peak": hi["index"]["peak_rss_mib"] / lo["index"]["peak_rss_mib"],
            "bm25_peak": hi["bm25_build"]["peak_rss_mib"] / lo["bm25_build"]["peak_rss_mib"],
        }
        print(json.dumps(results["growth"]))
    out = ROOT / "benchmarks" / "results" / f"index_memory{'_server' if args.server else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"-> {out}")


if __name__ == "__main__":
    main()

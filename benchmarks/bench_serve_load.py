"""Load on ``clir-rag serve``'s /search over loopback: latency percentiles, errors, and the server's memory.

    python benchmarks/bench_serve_load.py [--requests 200] [--concurrency 16]

Builds the demo index in a temporary directory, starts ``clir-rag serve`` on a free 127.0.0.1 port (a
real uvicorn process; /search needs no LLM), warms it up with a few queries, then sends ``--requests``
POST /search requests from ``--concurrency`` threads, questions in eight languages in turn. Reports
p50/p95/max latency, the error count, and the server's resident memory (VmRSS) after the warm-up,
right after the load, and a few seconds later, as a ratio to the first.

Writes ``benchmarks/results/serve_load.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/: the server helpers the tests use

QUESTIONS = [
    "Wer hat das Artemisinin entdeckt?",
    "Who discovered artemisinin?",
    "Où le café est-il né ?",
    "世界杯冠军最多的国家是哪个？",
    "Mlima mrefu zaidi Afrika ni upi?",
    "¿Cuándo cayó el Muro de Berlín?",
    "Когда пала Берлинская стена?",
    "ما هو أعلى جبل في أفريقيا؟",
]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def search(url: str, n: int) -> tuple[float, str | None]:
    body = json.dumps({"query": QUESTIONS[n % len(QUESTIONS)], "k": 10}).encode()
    req = urllib.request.Request(f"{url}/search", data=body, headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            ranking = json.loads(resp.read())
        error = None if len(ranking["candidates"]) == 10 else f"{len(ranking['candidates'])} candidates"
    except (urllib.error.URLError, OSError, ValueError) as e:
        error = f"{type(e).__name__}: {e}"
    return time.perf_counter() - start, error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to wait before the last memory reading")
    args = parser.parse_args()

    from clir_rag.demo import build_demo_index
    from tests.servers import free_port, serving

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as work:
        index = Path(work) / "demo-index"
        build_demo_index(index, progress=False)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "clir_rag.cli", "serve", "--index", str(index), "--port", str(port)]
        with serving(command, f"{url}/health", timeout=120) as server:
            for n in range(len(QUESTIONS)):  # warm-up: the encoder, BM25 and every language's path loaded
                search(url, n)
            before = rss_mib(server.pid)
            start = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                results = list(pool.map(lambda n: search(url, n), range(args.requests)))
            wall = time.perf_counter() - start
            after = rss_mib(server.pid)
            time.sleep(args.settle)
            settled = rss_mib(server.pid)
    latencies = sorted(1000 * t for t, _ in results)
    errors = [e for _, e in results if e]
    out = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "errors": len(errors),
        "first_errors": errors[:3],
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "max_ms": latencies[-1],
        "requests_per_s": args.requests / wall,
        "rss_mib": {"after_warmup": before, "after_load": after, "settled": settled},
        "rss_settled_ratio": settled / before,
    }
    print(json.dumps(out, indent=2, ensure_ascii=False))
    path = ROOT / "benchmarks" / "results" / "serve_load.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"-> {path}")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()

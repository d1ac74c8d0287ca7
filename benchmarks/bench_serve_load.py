"""Load on ``clir-rag serve``'s /search over loopback: latency percentiles, errors, and the server's memory.

    python benchmarks/bench_serve_load.py [--requests 200] [--concurrency 16] [--ingest-batches 10]

Builds the demo index in a temporary directory, starts ``clir-rag serve`` on a free 127.0.0.1 port (a
real uvicorn process; /search needs no LLM), warms it up with a few queries, then sends ``--requests``
POST /search requests from ``--concurrency`` threads, questions in eight languages in turn. Reports
p50/p95/max latency, the error count, and the server's resident memory (VmRSS) after the warm-up,
right after the load, and a few seconds later, as a ratio to the first.

Then the same load again while another process indexes ``--ingest-batches`` batches of 20 new
documents into the served index (one commit per batch): search p50/p95 with ingestion against
the run without it (ratios, same machine, same run), the error count, and the freshness lag,
from a batch's commit (the writer's clock when ``add`` returned) to the first search that finds
its documents (a prober asks for one of them every 20 ms), p50/p95.

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


INGEST = """
import json, sys, time
from clir_rag import CrossLingualIndex
from clir_rag.types import Document
idx = CrossLingualIndex(sys.argv[1], wait=None)
for b in range(int(sys.argv[2])):
    idx.add([Document(id=f"ing-{b}-{i}", lang="en", text=f"Gauge yq{b}w{i} recorded {b * 20 + i} millimetres of rain "
             f"in the storm of week {i + 1}.") for i in range(20)], progress=False)
    print(json.dumps({"batch": b, "committed": time.time()}), flush=True)
"""


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[int(q * (len(values) - 1))]


def with_ingestion(url: str, index: Path, batches: int, concurrency: int) -> dict:
    """Searches from ``concurrency`` threads while another process indexes; the lag from commit to visible."""
    import subprocess
    import threading

    writer = subprocess.Popen(
        [sys.executable, "-c", INGEST, str(index), str(batches)], stdout=subprocess.PIPE, text=True
    )
    commits: dict[int, float] = {}
    visible: dict[int, float] = {}
    done = threading.Event()
    results: list[tuple[float, str | None]] = []

    def read_commits() -> None:
        assert writer.stdout is not None
        for line in writer.stdout:
            event = json.loads(line)
            commits[event["batch"]] = event["committed"]
        done.set()

    def probe() -> None:  # asks for the newest committed batch's document until it is found
        while not (done.is_set() and len(visible) == len(commits)):
            pending = sorted(b for b in commits if b not in visible)
            for b in pending:
                body = json.dumps({"query": f"Gauge yq{b}w7 recorded", "k": 1, "mode": "bm25"}).encode()
                req = urllib.request.Request(f"{url}/search", data=body, headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=120) as resp:
                        found = json.loads(resp.read())["candidates"]
                except (urllib.error.URLError, OSError, ValueError):
                    continue
                if found and found[0]["doc_id"] == f"ing-{b}-7":
                    visible[b] = time.time()
            time.sleep(0.02)

    def load(worker: int) -> None:
        n = worker
        while not done.is_set():
            results.append(search(url, n))
            n += concurrency

    threads = [threading.Thread(target=read_commits), threading.Thread(target=probe)]
    threads += [threading.Thread(target=load, args=(w,)) for w in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    writer.wait()
    lags = [1000 * (visible[b] - commits[b]) for b in commits if b in visible]
    latencies = [1000 * t for t, _ in results]
    errors = [e for _, e in results if e]
    return {
        "batches": batches,
        "writer_exit": writer.returncode,
        "requests": len(results),
        "errors": len(errors),
        "first_errors": errors[:3],
        "p50_ms": statistics.median(latencies),
        "p95_ms": percentile(latencies, 0.95),
        "requests_per_s": len(results) / wall,
        "freshness_lag_p50_ms": statistics.median(lags) if lags else None,
        "freshness_lag_p95_ms": percentile(lags, 0.95) if lags else None,
        "batches_never_visible": len(commits) - len(lags),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to wait before the last memory reading")
    parser.add_argument("--ingest-batches", type=int, default=10, help="batches of 20 documents (0: no ingestion run)")
    args = parser.parse_args()

    from clir_rag.demo import build_demo_index
    from clir_rag.testing.servers import free_port, serving

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
            ingest = with_ingestion(url, index, args.ingest_batches, args.concurrency) if args.ingest_batches else None
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
    if ingest is not None:
        out["with_ingestion"] = ingest
        out["ingestion_p50_ratio"] = ingest["p50_ms"] / out["p50_ms"]
        out["ingestion_p95_ratio"] = ingest["p95_ms"] / out["p95_ms"]
        errors += ingest["first_errors"] if ingest["errors"] or ingest["writer_exit"] else []
    print(json.dumps(out, indent=2, ensure_ascii=False))
    path = ROOT / "benchmarks" / "results" / "serve_load.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"-> {path}")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()

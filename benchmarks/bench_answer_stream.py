"""How much sooner a streamed answer shows text: ``/answer/stream``'s first token against ``/answer`` whole.

    python benchmarks/bench_answer_stream.py [--rounds 2]

Builds the demo index in a temporary directory and starts ``clir-rag serve`` on a free 127.0.0.1 port with
the embedded GGUF in-process (no cache: every answer is generated). ``--rounds`` times, it asks
the eight questions (eight languages) through ``POST /answer`` (the baseline: what a page waits for without
streaming), then the same eight through ``POST /answer/stream``, recording when the ``sources``, the first
``token`` and the ``answer`` events arrive. Reports medians and the ratio first token / whole answer, both
measured in this run on this machine.

Writes ``benchmarks/results/answer_stream.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from benchmarks.bench_serve_load import QUESTIONS  # noqa: E402


def post(url: str, path: str, question: str) -> urllib.request.Request:
    body = json.dumps({"query": question, "k": 5}).encode()
    return urllib.request.Request(f"{url}{path}", data=body, headers={"Content-Type": "application/json"})


def whole(url: str, question: str) -> float:
    """Seconds until ``/answer`` returns."""
    start = time.perf_counter()
    with urllib.request.urlopen(post(url, "/answer", question), timeout=600) as resp:
        answer = json.loads(resp.read())
    if not answer.get("text"):
        raise RuntimeError(f"no answer to {question!r}: {answer}")
    return time.perf_counter() - start


def streamed(url: str, question: str) -> dict[str, float]:
    """Seconds until each event first arrives on ``/answer/stream``, and the number of tokens."""
    start = time.perf_counter()
    seen: dict[str, float] = {}
    tokens = 0
    with urllib.request.urlopen(post(url, "/answer/stream", question), timeout=600) as resp:
        for raw in resp:
            line = raw.decode().strip()
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
                seen.setdefault(name, time.perf_counter() - start)
                tokens += name == "token"
    if "answer" not in seen or "token" not in seen:
        raise RuntimeError(f"the stream for {question!r} ended without tokens and an answer: {sorted(seen)}")
    return {**seen, "tokens": tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from clir_rag.demo import build_demo_index
    from clir_rag.testing.servers import free_port, serving

    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as work:
        index = Path(work) / "demo-index"
        build_demo_index(index, progress=False)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "clir_rag.cli", "serve", "--index", str(index), "--port", str(port)]
        with serving(command, f"{url}/health", timeout=120):
            whole(url, QUESTIONS[0])  # warm-up: the model and lingua load on the first answer
            for _ in range(args.rounds):
                # all questions whole, then all streamed: consecutive calls never share a prompt, so neither
                # way finds the previous prompt in llama.cpp's KV cache
                base = [whole(url, question) for question in QUESTIONS]
                for question, seconds in zip(QUESTIONS, base, strict=True):
                    events = streamed(url, question)
                    times = {k if k == "tokens" else f"{k}_s": v for k, v in events.items()}
                    rows.append({"whole_s": seconds, **times})
    med = {key: statistics.median(r[key] for r in rows) for key in ("whole_s", "sources_s", "token_s", "answer_s")}
    out = {
        "answers": len(rows),
        "median_s": {
            "answer_whole (baseline, /answer)": med["whole_s"],
            "sources (stream)": med["sources_s"],
            "first_token (stream)": med["token_s"],
            "answer_event (stream)": med["answer_s"],
        },
        "median_tokens": statistics.median(r["tokens"] for r in rows),
        "first_token_over_whole": statistics.median(r["token_s"] / r["whole_s"] for r in rows),
        "stream_end_over_whole": statistics.median(r["answer_s"] / r["whole_s"] for r in rows),
    }
    print(json.dumps(out, indent=2, ensure_ascii=False))
    path = ROOT / "benchmarks" / "results" / "answer_stream.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"-> {path}")


if __name__ == "__main__":
    main()

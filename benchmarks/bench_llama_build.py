"""The embedded GGUF's speed under two builds of llama-cpp-python, measured in one run.

    python benchmarks/bench_llama_build.py --baseline DIR [--repeats 3]

The Makefile builds llama-cpp-python with AVX-512 and VNNI where the CPU reports them (AMX always off). This
compares that build (the one this Python imports) with another one, ``DIR``: a folder holding an unpacked
``llama_cpp`` package, for instance the wheel built with the AVX2-only flags (``pip wheel llama-cpp-python==0.3.36
--no-deps --no-cache-dir -w W`` with those ``CMAKE_ARGS``, then ``unzip W/*.whl -d DIR``). Each build runs in a
process of its own (the same interpreter, ``DIR`` first on its path), on 2 threads:

- prompt processing: a 480-token reranking-style prompt evaluated from an empty context (what a listwise window,
  a pairwise comparison or a RAG answer's passages cost first), tokens per second, the best of ``--repeats``;
- generation: 128 tokens decoded greedily, tokens per second, the best of ``--repeats``.

Reported: both builds' figures, their ratios, and whether the greedy continuations are the same text.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = r"""
import json, sys, time
import llama_cpp
from clir_rag.llm.models import default_gguf_path

repeats = int(sys.argv[1])
model = llama_cpp.Llama(model_path=str(default_gguf_path()), n_ctx=4096, n_threads=2, verbose=False)
passage = "The Nile is one of the longest rivers in Africa and flows north into the Mediterranean Sea."
prompt = "Rank the passages by relevance to the question. " + " ".join(f"[{i}] {passage}" for i in range(22))
tokens = model.tokenize(prompt.encode())
prompt_rate, gen_rate, text = 0.0, 0.0, ""
for _ in range(repeats):
    model.reset()
    start = time.perf_counter()
    model.eval(tokens)
    prompt_rate = max(prompt_rate, len(tokens) / (time.perf_counter() - start))
    model.reset()
    start = time.perf_counter()
    out = model.create_completion("Write a long story about a river.", max_tokens=128, temperature=0)
    gen_rate = max(gen_rate, out["usage"]["completion_tokens"] / (time.perf_counter() - start))
    text = out["choices"][0]["text"]
info = llama_cpp.llama_print_system_info().decode()
features = [f.split("=")[0].strip() for f in info.replace("CPU :", "").split("|") if f.strip().endswith("= 1")]
print(json.dumps({"prompt_tokens": len(tokens), "prompt": prompt_rate, "gen": gen_rate, "text": text,
                  "features": features, "module": llama_cpp.__file__}))
"""


def measure(path_first: Path | None, repeats: int) -> dict:
    """One build's figures, in a fresh process (``path_first``: a folder put before the installed packages)."""
    env = dict(os.environ)
    if path_first is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(path_first), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(repeats)], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"error: the build at {path_first or 'site-packages'} failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="folder holding another llama_cpp build")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not (args.baseline / "llama_cpp" / "__init__.py").exists():
        raise SystemExit(f"error: {args.baseline} holds no llama_cpp package (unzip a llama-cpp-python wheel there)")
    base = measure(args.baseline, args.repeats)
    built = measure(None, args.repeats)
    for name, r in (("baseline", base), ("installed", built)):
        print(f"{name:9s} {r['module']}\n          features: {' '.join(r['features'])}")
    print("\n| | baseline | installed | ratio |\n|---|---|---|---|")
    print(
        f"| prompt processing ({built['prompt_tokens']} tokens), tok/s | {base['prompt']:.0f} | "
        f"{built['prompt']:.0f} | **{built['prompt'] / base['prompt']:.2f}x** |"
    )
    print(
        f"| generation (128 tokens), tok/s | {base['gen']:.1f} | {built['gen']:.1f} | "
        f"{built['gen'] / base['gen']:.2f}x |"
    )
    print(f"\ngreedy continuations identical: {base['text'] == built['text']}")


if __name__ == "__main__":
    main()

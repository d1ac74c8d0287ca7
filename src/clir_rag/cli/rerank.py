"""``clir-rag rerank``: rerank a TREC run with an LLM (here, on a server, on Ray) or a cross-encoder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clir_rag.cli.common import MaxFailed, RayAddress, console, exit_on_error, exit_with, warn
from clir_rag.outcome import EXIT_TOO_MANY_FAILED, exit_code


def rerank(
    run: Annotated[Path, typer.Argument(help="First-stage TREC run file (qid Q0 docid rank score tag).")],
    queries: Annotated[Path, typer.Option(help="Queries: TSV 'qid<TAB>text' or JSONL with id, text.")],
    corpus: Annotated[Path, typer.Option(help="The documents the run ranks (JSONL or folder, as for 'index').")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the reranked TREC run.")],
    method: Annotated[
        str, typer.Option(help="listwise | pairwise-heap | pairwise-bubble | pairwise-allpairs | cross-encoder")
    ] = "listwise",
    depth: Annotated[int, typer.Option(help="Rerank this many candidates per query.")] = 100,
    window: Annotated[int, typer.Option(help="Listwise window size.")] = 20,
    step: Annotated[int, typer.Option(help="Listwise window step.")] = 10,
    top_k: Annotated[int, typer.Option(help="Pairwise heap: how many to pick.")] = 10,
    passes: Annotated[int, typer.Option(help="Pairwise bubble: number of passes.")] = 10,
    model: Annotated[
        str | None,
        typer.Option(
            help="Model name on an OpenAI-compatible server, or a GGUF path (local); for --method cross-encoder, "
            "the cross-encoder (a directory, e.g. from 'clir-rag train', or a hub id)."
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible server URL (else in-process llama.cpp); with --ray, several, comma-separated."
        ),
    ] = None,
    cache: Annotated[Path | None, typer.Option(help="LLM call cache (SQLite); reruns cost nothing.")] = None,
    max_failed_ratio: MaxFailed = 0.1,
    ray: Annotated[
        bool,
        typer.Option("--ray", help="Spread the queries over workers on Ray that call the --base-url server(s)."),
    ] = False,
    ray_address: RayAddress = None,
    per_endpoint: Annotated[
        int, typer.Option(min=1, help="With --ray: workers (so requests in flight) per server URL.")
    ] = 4,
) -> None:
    """Rerank a TREC run with an LLM (embedded GGUF, or any OpenAI-compatible server) or a cross-encoder."""
    from clir_rag.rerank.files import rerank_files

    with exit_on_error():
        total = rerank_files(
            run,
            queries,
            corpus,
            output,
            method=method,
            model=model,
            base_url=base_url,
            cache=cache,
            depth=depth,
            window=window,
            step=step,
            top_k=top_k,
            passes=passes,
            ray=ray,
            ray_address=ray_address,
            per_endpoint=per_endpoint,
        )
    u = total.usage
    # 0 or 3: rerank_run has raised (exit 1, nothing written) for a run whose every answer failed
    code = exit_code(total.outcome, max_failed_ratio)
    if code == EXIT_TOO_MANY_FAILED:
        warn(
            f"{total.failures} of {total.attempts} LLM answers failed "
            f"({total.failed_ratio:.0%} > --max-failed-ratio {max_failed_ratio:.0%}); the run is written but "
            f"partly first-stage order. First problem: {total.problems[0] if total.problems else '?'}"
        )
    if method == "cross-encoder":
        console.print(f"Reranked {total.queries} queries into {output} with cross-encoder {model}.")
        for problem in total.problems:
            console.print(f"  {problem}", highlight=False, markup=False)
        return
    console.print(
        f"Reranked {total.queries} queries into {output}: {u.calls} LLM calls, {u.cache_hits} cache hits, "
        f"{u.prompt_tokens} prompt + {u.completion_tokens} completion tokens, {u.seconds:.1f}s in the model; "
        f"windows ok/repaired/failed {total.windows_ok}/{total.windows_repaired}/{total.windows_failed}, "
        f"comparisons {total.comparisons} (ties {total.ties}, failed answers {total.comparison_failures})."
    )
    exit_with(code)

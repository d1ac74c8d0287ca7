"""``clir-rag eval`` and ``rag-check``: a packaged CLIR experiment, and the cross-lingual RAG answer check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clir_rag.cli.common import MaxFailed, console, exit_on_error, exit_with, warn
from clir_rag.outcome import EXIT_OK, EXIT_TOO_MANY_FAILED, exit_code


def eval_(
    config: Annotated[Path, typer.Argument(help="Experiment config (YAML), e.g. evals/xquad-en-de.yaml.")],
    data: Annotated[
        Path | None, typer.Option(help="Folder holding xquad/ and ciral/ (default: config, then ../shared/data).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default runs/eval/<name>).")] = None,
    limit: Annotated[int | None, typer.Option(help="Evaluate the first n queries only.")] = None,
    corpus: Annotated[Path | None, typer.Option(help="Corpus path for datasets that need one (CIRAL).")] = None,
    max_failed_ratio: MaxFailed = 0.1,
) -> None:
    """Run a packaged CLIR experiment: first stages, oracle ceilings, reranking; TREC runs, table, plots."""
    from clir_rag.eval.report import markdown
    from clir_rag.eval.runner import rerank_outcomes, run_config

    with exit_on_error():
        result = run_config(config, data=data, out=out, limit=limit, corpus=corpus)
    # Each rerank run on its own: a good run must not hide a bad one. A run whose every answer failed
    # never gets here (rerank_run raised, exit 1), so the codes are 0 or 3.
    outcomes = rerank_outcomes(result)
    codes = {name: exit_code(outcome, max_failed_ratio) for name, outcome in outcomes.items()}
    failing = [f"{name} ({o.failed} of {o.total})" for name, o in outcomes.items() if codes[name] != EXIT_OK]
    if failing:
        warn(f"LLM answers failed above --max-failed-ratio {max_failed_ratio:.0%} in " + ", ".join(failing))
    console.print(markdown(result), markup=False, highlight=False)
    console.print(f"Runs, report.md, results.json and plots in {result.out}")
    exit_with(max(codes.values(), default=EXIT_OK))


def rag_check(
    config: Annotated[Path, typer.Argument(help="RAG check config (YAML), e.g. evals/rag-xquad-en-de.yaml.")],
    data: Annotated[
        Path | None, typer.Option(help="Folder holding xquad/ (default: config, then ../shared/data).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default runs/rag/<name>).")] = None,
    limit: Annotated[int | None, typer.Option(help="Check n questions only (see --sample).")] = None,
    sample: Annotated[
        str | None, typer.Option(help="first: the first n questions; spread: n spread evenly over the collection.")
    ] = None,
    max_failed_ratio: MaxFailed = 0.1,
) -> None:
    """Answer questions from cross-lingual passages and check them: F1/EM, answer language, retrieval hit, judge."""
    from clir_rag.rag.experiment import summary_markdown
    from clir_rag.rag.runner import check_config

    with exit_on_error():
        # every answer failed: check_config raises (exit 1) after writing its files, so the codes here are 0 or 3
        checked = check_config(config, data=data, out=out, limit=limit, sample=sample)
    outcome, summary = checked.outcome, checked.summary
    code = exit_code(outcome, max_failed_ratio)
    if code == EXIT_TOO_MANY_FAILED:
        warn(
            f"{outcome.failed} of {outcome.total} answers failed "
            f"(> --max-failed-ratio {max_failed_ratio:.0%}): {summary['answer_errors']}"
        )
    console.print(summary_markdown(checked.config.name, summary), markup=False, highlight=False)
    # the folder as the config or --out spells it (checked.out is the same folder, as a Path)
    console.print(f"answers.jsonl, summary.md and summary.json in {checked.config.out or checked.out}")
    exit_with(code)

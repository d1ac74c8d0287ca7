"""Experiment reports: a Markdown table with significance marks, results.json, and PNG plots."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from clir_rag.eval.oracle import pri

if TYPE_CHECKING:
    from clir_rag.eval.experiment import ExperimentResult, RunResult

ALPHA = 0.05


def _cell(run: RunResult, measure: str) -> str:
    value = f"{run.means[measure]:.4f}"
    p = run.p_values.get(measure)
    return f"{value}†" if p is not None and p < ALPHA else value


def _pri(result: ExperimentResult, run: RunResult) -> float | None:
    """PRI of a reranked run against the oracle of the same first stage and depth."""
    if run.kind != "rerank" or run.base is None:
        return None
    try:
        oracle = result.get(f"{run.base}+oracle@{run.extra['depth']}")
    except KeyError:
        return None
    m = result.config.main_measure
    return pri(result.get(run.base).means[m], run.means[m], oracle.means[m])


def markdown(result: ExperimentResult) -> str:
    cfg = result.config
    measures = cfg.measures
    lines = [
        f"# {cfg.name}",
        "",
        f"Collection `{result.collection}`: {result.queries} queries, {result.documents} documents. "
        f"Encoder `{cfg.encoder}`, passages of {', '.join(map(str, cfg.passage_tokens))} tokens, MaxP, top {cfg.k}.",
        "",
        "| run | " + " | ".join(measures) + f" | PRI ({cfg.main_measure}) | LLM calls/query |",
        "|---|" + "---|" * (len(measures) + 2),
    ]
    for run in result.runs:
        p = _pri(result, run)
        calls = run.extra.get("llm_calls")
        lines.append(
            f"| {run.name} | "
            + " | ".join(_cell(run, m) for m in measures)
            + f" | {'' if p is None else f'{p:.2f}'} | {'' if calls is None else f'{calls / result.queries:.1f}'} |"
        )
    lines += [
        "",
        f"† p < {ALPHA} in a two-sided paired t-test against the run it builds on: a first stage against "
        f"`{result.runs[0].name}`, an oracle or a reranked run against its first stage. Measures by "
        "ir_measures with trec_eval `-c` semantics (queries without results score 0). AP is MAP, RR@10 is "
        "MRR@10. PRI: share of the oracle's gain over the first stage that the reranker realises.",
    ]
    failures = [(r.name, r.extra.get("failures", 0)) for r in result.runs if r.extra.get("failures")]
    if failures:
        lines += ["", "LLM answers that failed and fell back: " + ", ".join(f"{n}: {f}" for n, f in failures)]
    return "\n".join(lines) + "\n"


def plot(result: ExperimentResult) -> list[Path]:
    """``main.png`` (first stage vs oracle vs reranked) and, with several lengths, ``passage_length.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = result.config.main_measure
    paths = []
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(result.runs) + 2), 4))
    colors = {"first": "#4c72b0", "oracle": "#bbbbbb", "rerank": "#dd8452"}
    ax.bar(
        range(len(result.runs)),
        [r.means[m] for r in result.runs],
        color=[colors[r.kind] for r in result.runs],
    )
    ax.set_xticks(range(len(result.runs)), [r.name for r in result.runs], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(m)
    ax.set_ylim(0, 1)
    ax.set_title(f"{result.config.name}: first stage (blue), oracle (grey), reranked (orange)")
    fig.tight_layout()
    paths.append(result.out / "main.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    lengths = sorted({r.passage_tokens for r in result.runs})
    if len(lengths) > 1:
        fig, ax = plt.subplots(figsize=(6, 4))
        for retriever in result.config.retrievers:
            points = sorted(
                (r.passage_tokens, r.means[m]) for r in result.runs if r.kind == "first" and r.retriever == retriever
            )
            ax.plot([x for x, _ in points], [y for _, y in points], marker="o", label=retriever)
        ax.set_xscale("log", base=2)
        ax.set_xticks(lengths, [str(x) for x in lengths])
        ax.set_xlabel("passage length (tokens)")
        ax.set_ylabel(m)
        ax.legend()
        ax.set_title(f"{result.config.name}: passage length")
        fig.tight_layout()
        paths.append(result.out / "passage_length.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


def write_report(result: ExperimentResult) -> dict[str, Path]:
    from clir_rag.eval.experiment import write_json

    result.out.mkdir(parents=True, exist_ok=True)
    md = result.out / "report.md"
    md.write_text(markdown(result), encoding="utf-8")
    files = {"report": md, "json": write_json(result)}
    try:
        for p in plot(result):
            files[p.stem] = p
    except ImportError:  # matplotlib comes with the [eval] extra; the table and JSON do not need it
        pass
    return files

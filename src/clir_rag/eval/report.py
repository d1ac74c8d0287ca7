"""Experiment reports: a Markdown table with significance marks, results.json, and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clir_rag.eval.oracle import share_of_oracle_gain

if TYPE_CHECKING:
    from clir_rag.eval.results import ExperimentResult, RunResult

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
    return share_of_oracle_gain(result.get(run.base).means[m], run.means[m], oracle.means[m])


def markdown(result: ExperimentResult) -> str:
    """``report.md``: the scores table with p-values and PRI, the oracle ceilings, the language balance."""
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
    lines += _balance(result)
    failures = [(r.name, r.extra.get("failures", 0)) for r in result.runs if r.extra.get("failures")]
    if failures:
        lines += ["", "LLM answers that failed and fell back: " + ", ".join(f"{n}: {f}" for n, f in failures)]
    return "\n".join(lines) + "\n"


def _balance(result: ExperimentResult) -> list[str]:
    """Language balance of the first stages: each document language's share of the top n, and MRC."""
    firsts = [r for r in result.runs if r.kind == "first" and r.extra.get("language_share")]
    langs = sorted({lang for r in firsts for lang in r.extra["language_share"]})
    if len(langs) < 2:
        return []
    cfg = result.config
    depth = cfg.language_share_depth
    with_mrc = any("mrc" in r.extra for r in firsts)
    head = ["run", "query-language share", "largest share", *langs]
    if with_mrc:
        head.append(f"MRC@{cfg.mrc.depth if cfg.mrc else ''}")
    lines = [
        "",
        f"## Language balance (top {depth})",
        "",
        "| " + " | ".join(head) + " |",
        "|---|" + "---|" * (len(head) - 1),
    ]
    for r in firsts:
        share = r.extra["language_share"]
        top_lang = max(share, key=share.get)
        row = [
            r.name,
            f"{r.extra.get('own_language_share', 0.0):.3f}",
            f"{share[top_lang]:.3f} ({top_lang})",
            *(f"{share.get(x, 0.0):.3f}" for x in langs),
        ]
        if with_mrc:
            mrc = r.extra.get("mrc")
            row.append("" if mrc is None else f"{mrc['mean']:.4f}")
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        f"Share: the mean fraction of each query's top {depth} documents in that language. With one relevant "
        f"document per language (XQuAD pooled) an unbiased retriever gives each of {len(langs)} languages about "
        f"{1 / len(langs):.3f}.",
    ]
    if with_mrc:
        lines.append(
            "MRC: Spearman's rho between the ranking of a question and the rankings of the same question asked "
            f"in {', '.join(cfg.mrc.langs if cfg.mrc else [])}, over the union of their top "
            f"{cfg.mrc.depth if cfg.mrc else ''} documents with ranks taken to depth {cfg.k} (a document beyond "
            "it ranks just below), averaged over questions and languages (Yang et al., arXiv 2509.06195). "
            "1 means the question's language does not change the ranking; disjoint top lists score below 0."
        )
    return lines


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
    ax.set_title(f"{result.config.name}: " + plot_legend({r.kind for r in result.runs}))
    fig.tight_layout()
    paths.append(result.out / "main.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    share_plot = _plot_language_share(result, plt)
    if share_plot is not None:
        paths.append(share_plot)

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


def plot_legend(kinds: set[str]) -> str:
    """The colour key of ``main.png``, naming only the kinds of run that are drawn."""
    names = {"first": "first stage (blue)", "oracle": "oracle (grey)", "rerank": "reranked (orange)"}
    return ", ".join(names[k] for k in ("first", "oracle", "rerank") if k in kinds)


def _plot_language_share(result: ExperimentResult, plt: Any) -> Path | None:
    """``language_share.png``: per first stage, a bar stacked by the document languages of its top n."""
    firsts = [r for r in result.runs if r.kind == "first" and r.extra.get("language_share")]
    langs = sorted({lang for r in firsts for lang in r.extra["language_share"]})
    if len(langs) < 2:
        return None
    depth = result.config.language_share_depth
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(firsts) + 3), 4.5))
    cmap = plt.get_cmap("tab20")
    bottoms = [0.0] * len(firsts)
    for i, lang in enumerate(langs):
        values = [r.extra["language_share"].get(lang, 0.0) for r in firsts]
        ax.bar(range(len(firsts)), values, bottom=bottoms, color=cmap(i % 20), label=lang, edgecolor="white")
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    ax.axhline(1 / len(langs), color="black", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(firsts)), [r.name for r in firsts], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"share of the top {depth}")
    ax.set_title(f"{result.config.name}\ndocument languages in the top {depth} (dashed: an even share)", fontsize=10)
    ax.legend(ncol=1, fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left", title="language")
    fig.tight_layout()
    path = result.out / "language_share.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(result: ExperimentResult) -> dict[str, Path]:
    """Write ``report.md``, ``results.json`` and the plots (with matplotlib) into the run's folder."""
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


def results_json(result: ExperimentResult) -> dict[str, Any]:
    """Everything a run measured, per run and per query, as JSON-ready data."""
    return {
        "name": result.config.name,
        "collection": result.collection,
        "queries": result.queries,
        "documents": result.documents,
        "config": result.config.model_dump(),
        "runs": [
            {
                "name": r.name,
                "kind": r.kind,
                "retriever": r.retriever,
                "passage_tokens": r.passage_tokens,
                "base": r.base,
                "means": r.means,
                "p_values": r.p_values,
                **r.extra,
                "per_query": r.per_query,
            }
            for r in result.runs
        ],
    }


def write_json(result: ExperimentResult) -> Path:
    """Write :func:`results_json` to ``results.json`` in the run's folder."""
    path = result.out / "results.json"
    path.write_text(json.dumps(results_json(result), indent=2, ensure_ascii=False), encoding="utf-8")
    return path

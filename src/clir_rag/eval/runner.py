"""Running a packaged experiment from its config file, as ``clir-rag eval`` does, and how its rerank runs fared.

The command and Python callers share :func:`run_config` (the config with its overrides, then
:func:`~clir_rag.eval.experiment.run_experiment`) and :func:`rerank_outcomes` (each rerank run's
failed LLM answers as an :class:`~clir_rag.outcome.Outcome`, for :func:`~clir_rag.outcome.exit_code`).
"""

from __future__ import annotations

from pathlib import Path

from clir_rag.config import load_config, with_dataset_args
from clir_rag.eval.experiment import run_experiment
from clir_rag.eval.results import ExperimentResult
from clir_rag.outcome import Outcome


def run_config(
    config: str | Path,
    *,
    data: str | Path | None = None,
    out: str | Path | None = None,
    limit: int | None = None,
    corpus: str | Path | None = None,
    progress: bool = True,
) -> ExperimentResult:
    """Run the experiment the YAML file ``config`` describes; its runs, report and plots go to its output folder.

    ``data`` (the folder holding ``xquad/`` and ``ciral/``), ``out`` (the output folder) and
    ``limit`` (the first n queries) override the config's keys of those names; ``corpus`` is the
    corpus path of datasets that need one (CIRAL). Raises :class:`~clir_rag.errors.InputError`
    naming the file for a bad config. A rerank run whose every LLM answer failed raises
    :class:`~clir_rag.errors.LLMError`; partly failed ones are counted (:func:`rerank_outcomes`).
    """
    cfg = load_config(config, data=str(data) if data else None, out=str(out) if out else None, limit=limit)
    if corpus is not None:
        cfg = with_dataset_args(cfg, corpus=str(corpus))
    return run_experiment(cfg, progress=progress)


def rerank_outcomes(result: ExperimentResult) -> dict[str, Outcome]:
    """Each rerank run's LLM answers, failed out of asked for, by run name (judge each on its own:
    a good run must not hide a bad one)."""
    reranked = (r for r in result.runs if r.kind == "rerank")
    return {r.name: Outcome(r.extra.get("failures", 0), r.extra.get("attempts", 0)) for r in reranked}

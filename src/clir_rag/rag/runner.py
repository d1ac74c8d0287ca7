"""Running a RAG answer check from its config file, as ``clir-rag rag-check`` does, and how its LLM answers fared.

The command and Python callers share :func:`check_config` (the config with its overrides, then
:func:`~clir_rag.rag.experiment.run_rag_check`, with a check whose every answer failed an error)
and :func:`answers_outcome` (the summary's failed answers as an :class:`~clir_rag.outcome.Outcome`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clir_rag.config import RagCheckConfig, load_rag_config
from clir_rag.errors import LLMError
from clir_rag.outcome import Outcome
from clir_rag.rag.experiment import QuestionCheck, output_folder, run_rag_check


@dataclass(frozen=True)
class RagCheckRun:
    """What :func:`check_config` did: the config it ran, each question's check, the summary and its folder."""

    config: RagCheckConfig
    checks: list[QuestionCheck]
    summary: dict[str, Any]
    out: Path

    @property
    def outcome(self) -> Outcome:
        """How many answers failed, of the questions asked (:func:`answers_outcome`)."""
        return answers_outcome(self.summary)


def answers_outcome(summary: dict[str, Any]) -> Outcome:
    """The failed answers of a RAG check's ``summary`` (one per question, whatever the error) out of its questions."""
    return Outcome(failed=sum(summary["answer_errors"].values()), total=summary["questions"])


def check_config(
    config: str | Path,
    *,
    data: str | Path | None = None,
    out: str | Path | None = None,
    limit: int | None = None,
    sample: str | None = None,
    progress: bool = True,
) -> RagCheckRun:
    """Run the RAG check the YAML file ``config`` describes; ``answers.jsonl`` and the summary go to its folder.

    ``data`` (the folder holding ``xquad/``), ``out`` (the output folder), ``limit`` (how many
    questions) and ``sample`` (``first`` or ``spread``) override the config's keys of those
    names. Raises :class:`~clir_rag.errors.InputError` naming the file for a bad config, and
    :class:`~clir_rag.errors.LLMError` when every answer failed (a server that is down), after
    the files are written; partly failed answers are counted in :attr:`RagCheckRun.outcome`.
    """
    cfg = load_rag_config(
        config, data=str(data) if data else None, out=str(out) if out else None, limit=limit, sample=sample
    )
    checks, summary = run_rag_check(cfg, progress=progress)
    outcome = answers_outcome(summary)
    if outcome.all_failed:  # the rule of clir_rag.outcome: nothing answered is an error, files or not
        raise LLMError(f"every answer failed ({outcome.failed} of {outcome.total}): {summary['answer_errors']}")
    return RagCheckRun(cfg, checks, summary, output_folder(cfg))

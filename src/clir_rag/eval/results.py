"""What an eval experiment produces: scored runs and the experiment's result (read by the report)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from clir_rag.config import ExperimentConfig
from clir_rag.eval.metrics import PerQuery


@dataclass
class RunResult:
    """One scored run of an experiment: its means, per-query values and what it is compared against."""

    name: str
    kind: Literal["first", "oracle", "rerank"]
    retriever: str
    passage_tokens: int
    means: dict[str, float]
    per_query: PerQuery
    base: str | None = None  # the run this one is compared against (t-test)
    p_values: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExperimentResult:
    """Everything an experiment scored, with the config it ran and the folder it wrote to."""

    config: ExperimentConfig
    collection: str
    queries: int
    documents: int
    runs: list[RunResult]
    out: Path

    def get(self, name: str) -> RunResult:
        """The run called ``name``; KeyError if there is none."""
        for r in self.runs:
            if r.name == name:
                return r
        raise KeyError(name)

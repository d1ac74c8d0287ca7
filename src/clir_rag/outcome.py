"""How a run that calls an LLM many times ends: the one rule for "too many LLM answers failed".

A ``rerank``, ``eval`` or ``rag-check`` run asks an LLM for many answers and
keeps going when some fail (a reranker keeps that window's order, a RAG check
counts the question as failed). Whether the run as a whole then succeeded is
decided here, once, for every command:

* every answer failed (a server that is down): an error, exit code 1. Nothing
  useful came out, so calling it a result would pass the first stage (or an
  empty answer file) off as the model's work;
* more than ``max_failed_ratio`` of the answers failed: the output is kept,
  a warning is printed, and the exit code is 3, so a script or CI job notices
  a degraded run without losing it;
* otherwise (no answer asked for included): 0.

The rule lives in this module of its own, at the top of the package beside
:mod:`clir_rag.errors`, rather than in the CLI or beside
:class:`~clir_rag.rerank.base.RerankReport`: it is not about reranking only
(``rag-check`` counts answers, not windows), and it imports no framework, so
library code (:func:`~clir_rag.rerank.run.rerank_run` refuses a run whose every
answer failed with it) and tests use the same arithmetic as the commands.
The commands word their messages themselves; the counting and the decision
are here.
"""

from __future__ import annotations

from dataclasses import dataclass

# The exit codes of the command line (2, bad usage, is typer's own and never decided here).
EXIT_OK = 0
EXIT_ERROR = 1  # an error: one line on stderr, nothing half-written
EXIT_TOO_MANY_FAILED = 3  # a run that finished, output written, but with more than --max-failed-ratio failed


@dataclass(frozen=True)
class Outcome:
    """How many of a run's LLM answers failed (``failed``) out of how many were asked for (``total``).

    What counts as one answer is the caller's: a listwise window or one order of a
    pairwise comparison for reranking, a question for a RAG check.
    """

    failed: int
    total: int

    @property
    def failed_ratio(self) -> float:
        """Share of :attr:`total` that failed; 0.0 when nothing was asked (nothing asked, nothing failed)."""
        return self.failed / self.total if self.total else 0.0

    @property
    def all_failed(self) -> bool:
        """Whether answers were asked for and every one of them failed (a run with none asked did not fail)."""
        return self.total > 0 and self.failed == self.total


def exit_code(outcome: Outcome, max_failed_ratio: float) -> int:
    """The exit code the project's rule gives ``outcome``: 1, 3 or 0.

    :data:`EXIT_ERROR` when every answer failed, whatever ``max_failed_ratio``
    (even 1.0: a run that produced nothing is never a success);
    :data:`EXIT_TOO_MANY_FAILED` when the failed share is strictly above
    ``max_failed_ratio`` (a share equal to it passes, so ``0.0`` tolerates no
    failure and ``1.0`` any but a total one); else :data:`EXIT_OK`, which
    includes a run that asked for nothing.
    """
    if outcome.all_failed:
        return EXIT_ERROR
    if outcome.failed_ratio > max_failed_ratio:
        return EXIT_TOO_MANY_FAILED
    return EXIT_OK

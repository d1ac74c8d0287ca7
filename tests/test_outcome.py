"""The one exit rule for runs whose LLM answers partly failed (issue 28): 1, 3 or 0, the same for every command."""

from __future__ import annotations

import pytest

from clir_rag.llm.usage import Usage
from clir_rag.outcome import EXIT_ERROR, EXIT_OK, EXIT_TOO_MANY_FAILED, Outcome, exit_code
from clir_rag.rerank.base import RerankReport

pytestmark = pytest.mark.fast  # no LLM, server or index build: in the fast tier (make test-fast)


def test_a_run_whose_every_answer_failed_is_an_error_whatever_the_ratio() -> None:
    assert Outcome(failed=4, total=4).all_failed
    assert exit_code(Outcome(failed=4, total=4), 0.1) == EXIT_ERROR == 1
    # even a ratio that tolerates every failure: a run that produced nothing is never a success
    assert exit_code(Outcome(failed=1, total=1), 1.0) == EXIT_ERROR


def test_a_failed_share_above_the_ratio_exits_3() -> None:
    assert exit_code(Outcome(failed=2, total=4), 0.1) == EXIT_TOO_MANY_FAILED == 3
    assert exit_code(Outcome(failed=1, total=9), 0.1) == EXIT_TOO_MANY_FAILED  # 11% > 10%
    assert exit_code(Outcome(failed=1, total=1000), 0.0) == EXIT_TOO_MANY_FAILED  # 0.0 tolerates no failure


def test_a_failed_share_exactly_at_the_ratio_passes() -> None:
    assert Outcome(failed=1, total=10).failed_ratio == 0.1
    assert exit_code(Outcome(failed=1, total=10), 0.1) == EXIT_OK
    assert exit_code(Outcome(failed=2, total=4), 0.5) == EXIT_OK
    assert exit_code(Outcome(failed=3, total=4), 1.0) == EXIT_OK  # all but a total failure


def test_a_run_that_asked_for_nothing_succeeds() -> None:
    nothing = Outcome(failed=0, total=0)
    assert nothing.failed_ratio == 0.0 and not nothing.all_failed
    assert exit_code(nothing, 0.0) == EXIT_OK == 0


@pytest.mark.parametrize("ratio", [0.0, 0.1, 1.0])
def test_a_run_with_no_failure_succeeds(ratio: float) -> None:
    assert exit_code(Outcome(failed=0, total=7), ratio) == EXIT_OK


def test_a_rerank_report_counts_failed_windows_and_comparison_orders() -> None:
    report = RerankReport(
        "listwise", windows_ok=2, windows_failed=1, comparisons=1, comparison_failures=1, usage=Usage()
    )
    assert report.outcome == Outcome(failed=2, total=5)  # a comparison asks twice, once per order
    assert report.failed_ratio == report.outcome.failed_ratio == 0.4
    assert RerankReport("cross-encoder").outcome == Outcome(failed=0, total=0)  # no LLM asked

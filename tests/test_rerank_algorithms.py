import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clir_rag.rerank.algorithms import (
    MemoCompare,
    all_pairs,
    bubble_passes,
    listwise_sliding,
    sliding_windows,
    tournament_top_k,
)
from clir_rag.rerank.base import apply_order
from clir_rag.types import Query, Ranking, ScoredCandidate

pytestmark = pytest.mark.fast  # no LLM, server or index build: in the fast tier (make test-fast)


def _consistent(values: list[float]):
    return lambda i, j: 1.0 if values[i] > values[j] else (0.0 if values[i] < values[j] else 0.5)


def test_sliding_windows_go_bottom_up_and_always_cover_the_top() -> None:
    assert list(sliding_windows(100, 20, 10)) == [
        (80, 100),
        (70, 90),
        (60, 80),
        (50, 70),
        (40, 60),
        (30, 50),
        (20, 40),
        (10, 30),
        (0, 20),
    ]
    assert list(sliding_windows(25, 20, 10)) == [(5, 25), (0, 15)]
    assert list(sliding_windows(7, 20, 10)) == [(0, 7)]
    with pytest.raises(ValueError):
        list(sliding_windows(10, 1, 1))


@given(
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=60),
    st.integers(min_value=1, max_value=12),
)
def test_tournament_top_k_equals_sorting_with_a_consistent_judge(values: list[float], k: int) -> None:
    order = tournament_top_k(len(values), _consistent(values), k)
    assert sorted(order) == list(range(len(values)))
    expected = sorted(range(len(values)), key=lambda i: (-values[i], i))[:k]
    assert [values[i] for i in order[:k]] == [values[i] for i in expected]


def test_tournament_costs_n_minus_1_plus_log_n_per_pick() -> None:
    values = [random.Random(3).random() for _ in range(100)]
    compare = MemoCompare(_consistent(values))
    tournament_top_k(100, compare, 10)
    assert compare.calls <= 99 + 9 * 7


def test_bubble_passes_settle_the_top_and_stop_early() -> None:
    values = [random.Random(5).random() for _ in range(50)]
    order = bubble_passes(50, _consistent(values), passes=5)
    assert order[:5] == sorted(range(50), key=lambda i: -values[i])[:5]
    calls = []
    bubble_passes(10, lambda i, j: calls.append((i, j)) or 0.0, passes=10)  # nothing ever swaps
    assert len(calls) == 9  # one pass, then the early stop
    calls.clear()
    bubble_passes(10, lambda i, j: calls.append((i, j)) or 0.0, passes=3, early_stop=False)
    assert len(calls) == 9 + 8 + 7


def test_all_pairs_orders_by_wins() -> None:
    values = [0.1, 0.9, 0.5, 0.7]
    assert all_pairs(4, _consistent(values)) == [1, 3, 2, 0]


def test_listwise_sliding_with_a_perfect_window_ranker() -> None:
    values = [random.Random(9).random() for _ in range(100)]
    order = listwise_sliding(100, lambda part: sorted(part, key=lambda i: -values[i]), 20, 10)
    assert order[:10] == sorted(range(100), key=lambda i: -values[i])[:10]
    with pytest.raises(ValueError, match="permutation"):
        listwise_sliding(5, lambda part: part[:-1], 3, 1)


def test_memo_compare_answers_a_pair_once_in_either_order() -> None:
    compare = MemoCompare(lambda i, j: 1.0 if i < j else 0.0)
    assert compare(1, 2) == 1.0 and compare(2, 1) == 0.0 and compare.calls == 1


def test_apply_order_gives_strictly_decreasing_scores_and_keeps_first_stage() -> None:
    ranking = Ranking(
        query=Query(text="q"),
        retriever="dense",
        candidates=[
            ScoredCandidate(id=c, doc_id=c, score=s) for c, s in [("a", 0.9), ("b", 0.8), ("c", 0.7), ("d", 0.1)]
        ],
    )
    out = apply_order(ranking, [2, 0], "test")
    assert out.ids == ["c", "a", "b", "d"]
    assert [c.score for c in out] == [4.0, 3.0, 2.0, 1.0]
    assert out.candidates[0].metadata == {"first_stage_score": 0.7, "first_stage_rank": 3}
    assert out.retriever == "dense>test"

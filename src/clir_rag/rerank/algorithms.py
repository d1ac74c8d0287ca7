"""Reranking algorithms over candidate positions, independent of any LLM.

Each takes the number of candidates and a judge callback and returns a new
order of positions ``0..n-1``. The LLM rerankers plug in LLM judges; the
benchmark plugs in simulated judges built from qrels. A pairwise judge
``compare(i, j)`` returns 1.0 when ``i`` is more relevant, 0.0 when ``j``
is, 0.5 for a tie (disagreement between the two presentation orders).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from clir_rag.errors import InputError

Compare = Callable[[int, int], float]
RankWindow = Callable[[list[int]], list[int]]


def sliding_windows(n: int, window: int, step: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` windows from the bottom of ``n`` candidates to the top (RankGPT).

    Unlike RankGPT's loop, the last window always starts at 0, so the top of the
    list is reranked even when ``n - window`` is not a multiple of ``step``.
    """
    if window < 2 or step < 1:
        raise InputError(f"window must be >= 2 and step >= 1, got window={window}, step={step}")
    if n <= 0:
        return
    end = n
    start = max(0, n - window)
    while True:
        yield start, end
        if start == 0:
            return
        end -= step
        start = max(0, start - step)


def listwise_sliding(n: int, rank_window: RankWindow, window: int = 20, step: int = 10) -> list[int]:
    """Rerank with a sliding window; ``rank_window`` permutes the positions it is given."""
    order = list(range(n))
    for start, end in sliding_windows(n, window, step):
        part = order[start:end]
        ranked = rank_window(part)
        if sorted(ranked) != sorted(part):
            raise ValueError("rank_window must return a permutation of its input")
        order[start:end] = ranked
    return order


def _prefers(compare: Compare, a: int, b: int) -> bool:
    """``a`` beats ``b``; on a tie the earlier first-stage position wins."""
    s = compare(a, b)
    return s > 0.5 or (s == 0.5 and a < b)


def all_pairs(n: int, compare: Compare) -> list[int]:
    """PRP-AllPairs: every pair compared once; order by wins (ties: half a win each)."""
    wins = [0.0] * n
    for i in range(n):
        for j in range(i + 1, n):
            s = compare(i, j)
            wins[i] += s
            wins[j] += 1.0 - s
    return sorted(range(n), key=lambda i: (-wins[i], i))


def bubble_passes(n: int, compare: Compare, passes: int = 10, early_stop: bool = True) -> list[int]:
    """PRP-Sliding-K: ``passes`` bubble-sort passes from the bottom; stops early when a pass swaps nothing.

    After pass ``p`` the top ``p + 1`` positions are settled, so later passes stop there.
    A swap needs a strict win (a tie keeps the first-stage order).
    """
    order = list(range(n))
    for p in range(passes):
        changed = False
        for i in range(n - 2, p - 1, -1):
            upper, lower = order[i], order[i + 1]
            if compare(lower, upper) > 0.5:
                order[i], order[i + 1] = lower, upper
                changed = True
        if early_stop and not changed:
            break
    return order


def tournament_top_k(n: int, compare: Compare, k: int = 10) -> list[int]:
    """Top-k by a tournament (winner) heap: n - 1 matches to build, about log2(n) per next winner.

    The first ``k`` positions come out best first; the rest keep their first-stage order.
    """
    if n <= 1:
        return list(range(n))
    size = 1
    while size < n:
        size *= 2
    tree: list[int | None] = [None] * (2 * size)
    for i in range(n):
        tree[size + i] = i

    def play(a: int | None, b: int | None) -> int | None:
        if a is None:
            return b
        if b is None:
            return a
        return a if _prefers(compare, a, b) else b

    for node in range(size - 1, 0, -1):
        tree[node] = play(tree[2 * node], tree[2 * node + 1])
    top: list[int] = []
    for _ in range(min(k, n)):
        winner = tree[1]
        assert winner is not None
        top.append(winner)
        node = size + winner
        tree[node] = None
        node //= 2
        while node >= 1:
            tree[node] = play(tree[2 * node], tree[2 * node + 1])
            node //= 2
    chosen = set(top)
    return top + [i for i in range(n) if i not in chosen]


class MemoCompare:
    """Memoises a judge per unordered pair (a tie stays a tie whichever way it is asked)."""

    def __init__(self, compare: Compare) -> None:
        self._compare = compare
        self._memo: dict[tuple[int, int], float] = {}
        self.calls = 0

    def __call__(self, a: int, b: int) -> float:
        """The judge's verdict on ``(a, b)``, asking it at most once per unordered pair."""
        if (a, b) in self._memo:
            return self._memo[(a, b)]
        if (b, a) in self._memo:
            return 1.0 - self._memo[(b, a)]
        self.calls += 1
        s = self._compare(a, b)
        self._memo[(a, b)] = s
        return s

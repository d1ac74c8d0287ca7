"""Time on one LLM call: its deadline clock, and how a number of seconds is written in messages."""

from __future__ import annotations

import time


class Clock:
    """A call's deadline: ``seconds`` from now, or none."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def left(self) -> float | None:
        """Seconds until the deadline (negative once past it); None without one."""
        return None if self.end is None else self.end - time.monotonic()

    def passed(self) -> bool:
        """Whether the deadline has passed."""
        # a millisecond's slack: a wait cut to the time left may wake a hair before the deadline
        return self.end is not None and time.monotonic() >= self.end - 1e-3


def secs(seconds: float) -> str:
    """``seconds`` as error messages write it: whole seconds from 10 on, two significant digits below."""
    return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.2g}s"

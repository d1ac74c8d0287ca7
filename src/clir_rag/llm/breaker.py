"""The circuit breaker an :class:`~clir_rag.llm.LLMClient` keeps per backend.

It has three states. *Closed*: calls go through. *Open*: the backend was found
unavailable (a refused connection, a missing model: at once) or did not answer
in time (:data:`TIMEOUTS_TO_OPEN` timed-out tries in a row); every call fails at
once with :class:`~clir_rag.errors.LLMUnavailableError` naming the reason and the
seconds until the next try. *Half-open*: ``cooldown`` seconds later one trial
call is let through (others still fail fast); its success closes the circuit,
its failure opens it for another cool-down. So a service recovers by itself
after its LLM server restarts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from clir_rag.errors import LLMUnavailableError
from clir_rag.llm.timing import secs
from clir_rag.llm.usage import Usage

#: Timed-out tries in a row that open the circuit. One timeout is often just a long prompt on a slow
#: model; two in a row (two full timeouts, or two calls' deadlines) is a server that does not answer.
#: A refused connection or a missing model opens it at once.
TIMEOUTS_TO_OPEN = 2

BreakerState = Literal["closed", "open", "half-open"]


class Breaker:
    """The circuit: closed -> open (unavailable at once, or TIMEOUTS_TO_OPEN timeouts in a row) -> half-open
    after ``cooldown`` (one trial call) -> closed on its success, open again on its failure. Thread-safe."""

    def __init__(self, cooldown: float) -> None:
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self._opened_at: float | None = None  # monotonic time it (last) opened; None while closed
        self._reason = ""  # why it opened
        self._timeouts = 0  # timed-out tries in a row
        self._trial: object | None = None  # the half-open trial call under way, as its token
        self._problem = ""  # the last transient failure since the last success

    def snapshot(self) -> tuple[BreakerState, str, float, str]:
        """State, why it opened, seconds until half-open, the last transient problem."""
        with self._lock:
            if self._opened_at is None:
                return "closed", "", 0.0, self._problem
            left = self._opened_at + self.cooldown - time.monotonic()
            state: BreakerState = "half-open" if self._trial is not None or left <= 0 else "open"
            return state, self._reason, max(left, 0.0), self._problem

    def _refusal(self, now: float) -> LLMUnavailableError | None:
        if self._opened_at is None:
            return None
        left = self._opened_at + self.cooldown - now
        if left > 0:
            return LLMUnavailableError(f"{self._reason} (circuit breaker open: next try in {secs(left)})")
        if self._trial is not None:
            return LLMUnavailableError(f"{self._reason} (circuit breaker half-open: a trial call is under way)")
        return None

    def admit(self, usage: Usage | None, account: Callable[..., None]) -> object | None:
        """Let a call through (a token when it is the half-open trial) or raise :class:`LLMUnavailableError`."""
        with self._lock:
            refusal = self._refusal(time.monotonic())
            if refusal is None and self._opened_at is not None:
                self._trial = object()
                return self._trial
        if refusal is not None:
            account(usage, failures=1)
            raise refusal
        return None

    def refuse_if_open(self, usage: Usage | None, account: Callable[..., None]) -> None:
        """Raise while the circuit refuses calls (open, or half-open with its trial under way); take no trial."""
        with self._lock:
            refusal = self._refusal(time.monotonic())
        if refusal is not None:
            account(usage, failures=1)
            raise refusal

    def succeeded(self) -> None:
        """A call succeeded: the circuit closes and forgets its problems."""
        with self._lock:
            self._opened_at, self._reason, self._timeouts, self._trial, self._problem = None, "", 0, None, ""

    def responded(self, problem: str) -> None:
        """The backend answered, with an error: it is reachable, so the circuit closes."""
        with self._lock:
            self._opened_at, self._reason, self._timeouts, self._trial = None, "", 0, None
            self._problem = problem

    def note(self, problem: str) -> None:
        """Remember ``problem`` as the last failure (for :meth:`snapshot`) without changing the state."""
        with self._lock:
            self._problem = problem

    def _open(self, reason: str) -> None:
        self._opened_at, self._reason, self._timeouts, self._trial = time.monotonic(), reason, 0, None
        self._problem = reason

    def unavailable(self, reason: str) -> None:
        """The backend is down (refused, missing): the circuit opens at once for ``reason``."""
        with self._lock:
            self._open(reason)

    def timed_out(self, reason: str, trial: bool) -> str:
        """Count a timed-out try; the reason the circuit opened for, when it did ('' when not)."""
        with self._lock:
            self._timeouts += 1
            self._problem = reason
            if not trial and self._timeouts < TIMEOUTS_TO_OPEN:
                return ""
            n = self._timeouts
            self._open(f"{reason} ({n} timed-out tries in a row)" if n > 1 else reason)
            return self._reason

    def release(self, trial: object | None) -> None:
        """A trial call that ended without a verdict (closed early, bad input): the next call is the trial."""
        if trial is not None:
            with self._lock:
                if self._trial is trial:
                    self._trial = None

    def reset(self) -> None:
        """Close the circuit now, as a success would."""
        self.succeeded()

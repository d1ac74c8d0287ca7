"""How one call to an LLM backend is made to hold up: timeouts, a deadline, retries and the circuit breaker.

:class:`RetryingCaller` is the half of :class:`~clir_rag.llm.LLMClient` that runs a
backend call: it admits the call past the circuit breaker (:mod:`clir_rag.llm.breaker`),
bounds each try by the timeout and the whole call by its deadline, retries transient
failures with exponential backoff, accounts every try in :class:`~clir_rag.llm.Usage`,
and runs each try on a thread it can give up on (:mod:`clir_rag.llm.jobs`). The client
adds the cache and the calls themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypeVar

from clir_rag.errors import InputError, LLMError, LLMTimeoutError, LLMTransientError, LLMUnavailableError
from clir_rag.llm.base import LLM
from clir_rag.llm.breaker import Breaker, BreakerState
from clir_rag.llm.jobs import Job, QueuedTimeout, local_backend
from clir_rag.llm.timing import Clock, secs
from clir_rag.llm.usage import Usage

T = TypeVar("T")

Health = Literal["ok", "degraded", "down"]


class RetryingCaller:
    """Runs calls on ``llm`` with a timeout per try, a deadline per call, bounded retries and a circuit breaker.

    ``timeout`` bounds each try, ``deadline`` a whole call (``None`` turns either off);
    ``max_retries`` transient failures are retried after ``backoff * 2**attempt`` seconds;
    ``breaker_cooldown`` is how long the circuit stays open. ``usage`` accumulates over its life.
    """

    def __init__(
        self,
        llm: LLM,
        *,
        timeout: float | None,
        max_retries: int,
        backoff: float,
        deadline: float | None,
        breaker_cooldown: float,
    ) -> None:
        for name, value in (("timeout", timeout), ("deadline", deadline)):
            if value is not None and not value > 0:
                raise InputError(f"LLMClient {name}: must be a positive number of seconds or None, got {value!r}")
        if not breaker_cooldown >= 0:
            raise InputError(f"LLMClient breaker_cooldown: must be seconds >= 0, got {breaker_cooldown!r}")
        self.llm = llm
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.deadline = deadline
        self.usage = Usage()
        self._name = f"{llm.backend} {llm.model}".strip()
        self._breaker = Breaker(breaker_cooldown)
        # one per model object, shared by every client over it: a call one client abandoned keeps the model
        self._local = local_backend(llm) if getattr(llm, "in_process", False) else None
        self._closed = False

    @property
    def breaker_cooldown(self) -> float:
        """Seconds the circuit stays open before one trial call is let through."""
        return self._breaker.cooldown

    @breaker_cooldown.setter
    def breaker_cooldown(self, seconds: float) -> None:
        """Change the cool-down; it applies at once, to a circuit already open too."""
        self._breaker.cooldown = seconds

    @property
    def breaker_state(self) -> BreakerState:
        """``"closed"`` (calls go through), ``"open"`` (they fail at once) or ``"half-open"`` (one trial goes)."""
        return self._breaker.snapshot()[0]

    # -- state ----------------------------------------------------------------------

    def health(self) -> tuple[Health, str]:
        """How the backend looks from here, as ``(status, reason)``; it makes no call.

        ``("ok", "")``: the circuit is closed and the last try succeeded (or none was made).
        ``("degraded", reason)``: the circuit is half-open (the next call is a trial), the last try failed
        transiently, or a timed-out in-process call still holds the model. ``("down", reason)``: the circuit
        is open (the reason says until when), or the client is closed.
        """
        if self._closed:
            return "down", f"{self._name}: the LLM client is closed"
        state, reason, left, problem = self._breaker.snapshot()
        if state == "open":
            return "down", f"{reason} (circuit breaker open: next try in {secs(left)})"
        if state == "half-open":
            return "degraded", f"{reason} (circuit breaker half-open: the next call is a trial)"
        busy = self._busy_reason()
        if busy:
            return "degraded", busy
        if problem:
            return "degraded", f"{problem} (the last try failed)"
        return "ok", ""

    def reset_availability(self) -> None:
        """Close the circuit now (after restarting the server, say) instead of waiting out the cool-down."""
        self._breaker.reset()

    # -- running a call ------------------------------------------------------------

    def _account(self, usage: Usage | None, **deltas: float) -> None:
        self.usage.add(**deltas)
        if usage is not None and usage is not self.usage:
            usage.add(**deltas)

    def _clock(self, deadline: float | None) -> Clock:
        seconds = self.deadline if deadline is None else deadline
        if seconds is not None and not seconds > 0:
            raise InputError(f"deadline: must be a positive number of seconds or None, got {seconds!r}")
        return Clock(seconds)

    def _refuse_closed(self, usage: Usage | None) -> None:
        if self._closed:
            self._account(usage, failures=1)
            raise LLMUnavailableError(f"{self._name}: the LLM client is closed")

    def _busy_reason(self) -> str:
        """Why an in-process backend cannot take a call now ('' when it can)."""
        since = self._local.abandoned_since() if self._local is not None else None
        if since is None:
            return ""
        return (
            f"{self._name}: a call that timed out {secs(time.monotonic() - since)} ago is still running in this "
            "process and holds the model (in-process calls cannot be cancelled)"
        )

    def _refuse_if_busy(self, usage: Usage | None) -> None:
        busy = self._busy_reason()
        if busy:
            self._account(usage, failures=1)
            raise LLMTransientError(f"{busy}; not queueing behind it: try again once it has finished")

    def _admit(self, usage: Usage | None) -> object | None:
        """Let a call start, or fail it fast; a token when it is the half-open circuit's trial call."""
        self._refuse_closed(usage)
        self._refuse_if_busy(usage)
        return self._breaker.admit(usage, self._account)

    def _try_wait(self, clock: Clock, attempt: int, usage: Usage | None) -> float | None:
        """How long the next try may take: the timeout or the time left, whichever is less."""
        left = clock.left()
        if left is not None and left <= 0:  # a try with no time cannot answer (and would leave a thread behind)
            self._account(usage, failures=1)
            raise self._deadline_error(clock, attempt, "no time left for another try")
        return self._piece_wait(clock)

    def _piece_wait(self, clock: Clock) -> float | None:
        left = clock.left()
        if left is None:
            return self.timeout
        return max(0.0, left if self.timeout is None else min(self.timeout, left))

    def _deadline_error(
        self, clock: Clock, tries: int, detail: str, last: BaseException | None = None
    ) -> LLMTimeoutError:
        what = f"{tries} {'try' if tries == 1 else 'tries'}" + (f", {detail}" if detail else "")
        tail = f"; last: {last}" if last is not None else ""
        deadline = secs(clock.seconds or 0)
        return LLMTimeoutError(f"{self._name}: no answer within the call's {deadline} deadline ({what}{tail})")

    def _failed(
        self, e: LLMError, *, attempt: int, clock: Clock, trial: object | None, usage: Usage | None, handed: int = 0
    ) -> object | None:
        """Record try ``attempt``'s failure ``e``; raise what the caller gets, or wait out the backoff and return.

        Returns the half-open circuit's trial token when the call still holds it.
        """
        try:
            if isinstance(e, LLMUnavailableError):
                self._breaker.unavailable(str(e))
                raise e
            if isinstance(e, QueuedTimeout):  # the model is busy, not broken: the breaker is not told
                self._breaker.note(f"{self._name}: {e}")
            elif isinstance(e, LLMTimeoutError):
                opened = self._breaker.timed_out(f"{self._name}: {e}", trial is not None)
                trial = None
                late = clock.passed()
                pieces = f"after {handed} pieces" if handed else ""
                if opened:
                    said = self._deadline_error(clock, attempt + 1, pieces, e) if late else opened
                    raise LLMUnavailableError(
                        f"{said} (circuit breaker now open: calls fail at once for {secs(self.breaker_cooldown)})"
                    ) from e
                if late:
                    raise self._deadline_error(clock, attempt + 1, pieces, e) from e
                if self._local is not None and self._local.abandoned_since() is not None:
                    raise LLMTimeoutError(
                        f"{self._name}: {e}; the call is still running in this process (in-process calls cannot "
                        "be cancelled), so no retry is queued behind it"
                    ) from e
            elif isinstance(e, LLMTransientError):
                # an error answer (429, 5xx, a cut stream): the backend is there, only struggling
                self._breaker.responded(f"{self._name}: {e}")
                trial = None
            else:  # a plain LLMError: the backend answered; retrying would get the same answer
                self._breaker.responded("")
                raise e
            if handed:
                raise LLMError(f"{self._name}: stream broke after {handed} pieces: {e}") from e
            if attempt >= self.max_retries:
                raise LLMError(f"{self._name}: gave up after {attempt + 1} tries: {e}") from e
            delay = self.backoff * (2**attempt)
            left = clock.left()
            if left is not None and delay >= left:
                raise self._deadline_error(clock, attempt + 1, "no time left for another try", e) from e
        except BaseException:
            self._account(usage, failures=1)
            raise
        self._account(usage, retries=1)
        time.sleep(delay)
        # another call may have found the backend down meanwhile, or left an in-process call running
        self._refuse_if_busy(usage)
        if trial is None:
            self._breaker.refuse_if_open(usage, self._account)
        return trial

    def _call(self, fn: Callable[[], T], usage: Usage | None, clock: Clock) -> T:
        trial = self._admit(usage)
        attempt = 0
        try:
            while True:
                wait = self._try_wait(clock, attempt, usage)
                begun = time.perf_counter()
                try:
                    result = self._run(fn, wait, lambda: self._piece_wait(clock))
                except LLMError as e:
                    self._account(usage, calls=1, seconds=time.perf_counter() - begun)
                    trial = self._failed(e, attempt=attempt, clock=clock, trial=trial, usage=usage)
                    attempt += 1
                    continue
                self._account(usage, calls=1, seconds=time.perf_counter() - begun)
                self._breaker.succeeded()
                trial = None
                return result
        finally:
            self._breaker.release(trial)

    def _run(self, fn: Callable[[], T], wait: float | None, then: Callable[[], float | None]) -> T:
        """``fn()``, given up after ``wait`` seconds (None: waited for).

        A daemon thread per try rather than a pool: a try that times out cannot be stopped, and an
        abandoned one must neither hold a pool worker that later calls queue behind nor keep the
        process from exiting (a pool's workers are joined at exit). In-process backends first take
        their model's gate, waiting for a busy model at most ``wait``; the call itself then gets
        ``then()`` seconds (the timeout again, within what the deadline leaves).
        """
        local = self._local
        if wait is None and local is None:
            return fn()
        if local is not None:
            wait = local.enter(wait, then)
        job = Job(fn, local)
        job.start()
        return job.result(wait)

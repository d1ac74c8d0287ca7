"""LLMClient: one robust way to call any backend.

Around a backend it adds what every caller needs and no backend should
repeat: the persistent cache, usage accounting, a timeout per try, bounded
retries with exponential backoff for transient failures, a total deadline per
call, a concurrency limit for async callers, and a circuit breaker.

The breaker has three states. *Closed*: calls go through. *Open*: the backend
was found unavailable (a refused connection, a missing model: at once) or did
not answer in time (:data:`TIMEOUTS_TO_OPEN` timed-out tries in a row); every
call fails at once with :class:`~clir_rag.errors.LLMUnavailableError` naming
the reason and the seconds until the next try. *Half-open*: ``breaker_cooldown``
seconds later one trial call is let through (others still fail fast); its
success closes the circuit, its failure opens it for another cool-down. So a
service recovers by itself after its LLM server restarts.

In-process backends (llama.cpp, transformers) cannot be cancelled: a try that
timed out keeps running and keeps the model. The client does not queue
anything behind such a call: until it finishes, calls on that backend fail at
once saying so.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

from clir_rag.errors import InputError, LLMError, LLMTimeoutError, LLMTransientError, LLMUnavailableError
from clir_rag.llm.base import LLM, Completion, Message, supports_label_scores, supports_streaming
from clir_rag.llm.cache import LLMCache, cache_key
from clir_rag.llm.usage import Usage

T = TypeVar("T")

#: Timed-out tries in a row that open the circuit. One timeout is often just a long prompt on a slow
#: model; two in a row (two full timeouts, or two calls' deadlines) is a server that does not answer.
#: A refused connection or a missing model opens it at once.
TIMEOUTS_TO_OPEN = 2

#: How long closing a stream early waits for an in-process backend to finish its current piece and
#: let go of the model; one still busy after that counts as an abandoned call (see the module's doc).
STOP_GRACE_S = 5.0

BreakerState = Literal["closed", "open", "half-open"]
Health = Literal["ok", "degraded", "down"]


class LLMClient:
    """Call ``llm`` with caching, retries, timeouts, a deadline, a circuit breaker and accounting.

    ``timeout`` bounds each try (and, in :meth:`stream`, the wait for each piece); ``deadline`` bounds
    a whole call: every try, every backoff wait and the wait for a concurrency slot (a stream until its
    last piece). ``None`` turns either off; a call's ``deadline`` argument replaces the client's.
    ``breaker_cooldown`` is how long the circuit stays open before a trial call is let through.

    ``usage`` accumulates over the client's life; pass a fresh :class:`Usage` to a call to also
    account it per query. :meth:`close` (or ``with LLMClient(...) as client:``) ends it.
    """

    def __init__(
        self,
        llm: LLM,
        cache: LLMCache | str | Path | None = None,
        *,
        timeout: float | None = 120.0,
        max_retries: int = 2,
        backoff: float = 0.5,
        concurrency: int = 4,
        deadline: float | None = None,
        breaker_cooldown: float = 10.0,
    ) -> None:
        for name, value in (("timeout", timeout), ("deadline", deadline)):
            if value is not None and not value > 0:
                raise InputError(f"LLMClient {name}: must be a positive number of seconds or None, got {value!r}")
        if not breaker_cooldown >= 0:
            raise InputError(f"LLMClient breaker_cooldown: must be seconds >= 0, got {breaker_cooldown!r}")
        self.llm = llm
        # a cache the client opened from a path is the client's to close; one handed in is the caller's
        self._owns_cache = isinstance(cache, str | Path)
        self.cache = LLMCache(cache) if isinstance(cache, str | Path) else cache
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.concurrency = max(1, concurrency)
        self.deadline = deadline
        self.usage = Usage()
        self._name = f"{llm.backend} {llm.model}".strip()
        self._breaker = _Breaker(breaker_cooldown)
        # one per model object, shared by every client over it: a call one client abandoned keeps the model
        self._local = _local_backend(llm) if getattr(llm, "in_process", False) else None
        self._closed = False
        self._close_lock = threading.Lock()
        self._sem: asyncio.Semaphore | None = None
        self._sem_loop: asyncio.AbstractEventLoop | None = None

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

    @property
    def supports_label_scores(self) -> bool:
        """Whether the backend can score labels (PRP's log-probability mode)."""
        return supports_label_scores(self.llm)

    def count_tokens(self, text: str) -> int:
        """The backend's token count for ``text``."""
        return self.llm.count_tokens(text)

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
            return "down", f"{reason} (circuit breaker open: next try in {_secs(left)})"
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

    def close(self) -> None:
        """End the client: later calls raise :class:`~clir_rag.errors.LLMUnavailableError`; idempotent.

        A cache the client opened from a path is closed; a cache or backend handed in is left to its
        owner. Tries still running finish on their own (daemon) threads, so none holds up the process's exit.
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        if self._owns_cache and self.cache is not None:
            self.cache.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- sync ---------------------------------------------------------------------

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
        usage: Usage | None = None,
        deadline: float | None = None,
    ) -> Completion:
        """The backend's :meth:`~clir_rag.llm.LLM.generate`, cached, retried, timed out and accounted.

        Greedy answers (``temperature`` 0) are cached; ``usage`` also receives this call's counts;
        ``deadline`` (seconds) replaces the client's for this call. Raises
        :class:`~clir_rag.errors.LLMError` once retries are spent,
        :class:`~clir_rag.errors.LLMTimeoutError` when the deadline passes, and
        :class:`~clir_rag.errors.LLMUnavailableError` when the backend is down or the circuit is open.
        """
        clock = self._clock(deadline)
        return self._generate(messages, clock, max_tokens=max_tokens, stop=stop, temperature=temperature, usage=usage)

    def _generate(
        self,
        messages: Sequence[Message],
        clock: _Clock,
        *,
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
        usage: Usage | None = None,
    ) -> Completion:
        key = self._generation_key(messages, max_tokens, stop, temperature)
        cached = self._cached(key, usage)
        if cached is not None:
            return Completion(**cached)

        def call() -> Completion:
            return self.llm.generate(messages, max_tokens=max_tokens, stop=stop, temperature=temperature)

        result = self._call(call, usage, clock)
        self._account(usage, prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens)
        self._store_completion(key, result, temperature)
        return result

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
        usage: Usage | None = None,
        deadline: float | None = None,
    ) -> Iterator[str]:
        """:meth:`generate`'s reply as pieces of text, handed out as the backend produces them.

        It shares :meth:`generate`'s cache (a hit is one piece), accounting and circuit breaker (its first
        piece is what proves a trial call). ``timeout`` bounds the wait for each piece, ``deadline`` the
        whole stream. A transient failure before the first piece is retried; after it, what was handed
        out cannot be taken back, so it raises :class:`~clir_rag.errors.LLMError` and nothing is cached.
        Closing the iterator early stops the backend. Backends without
        :meth:`~clir_rag.llm.StreamingLLM.stream` give their whole reply as one piece.
        """
        clock = self._clock(deadline)
        if not supports_streaming(self.llm):  # generate does the caching, retries and accounting
            done = self._generate(
                messages, clock, max_tokens=max_tokens, stop=stop, temperature=temperature, usage=usage
            )
            yield done.text
            return
        key = self._generation_key(messages, max_tokens, stop, temperature)
        cached = self._cached(key, usage)
        if cached is not None:
            yield cached["text"]
            return

        def start() -> Iterator[Completion]:
            return iter(
                self.llm.stream(  # type: ignore[attr-defined]
                    messages, max_tokens=max_tokens, stop=stop, temperature=temperature
                )
            )

        trial = self._admit(usage)
        attempt = 0
        try:
            while True:
                wait = self._try_wait(clock, attempt, usage)
                begun = time.perf_counter()
                pieces: list[str] = []
                prompt_tokens = completion_tokens = 0
                feed: _Feed | None = None
                failure: LLMError | None = None
                try:
                    feed = _Feed(start, self._local, wait, lambda: self._piece_wait(clock))
                    while (part := feed.next(lambda: self._piece_wait(clock))) is not None:
                        prompt_tokens += part.prompt_tokens
                        completion_tokens += part.completion_tokens
                        if part.text:
                            if not pieces:  # the backend answers: a trial has done its job
                                self._breaker.succeeded()
                                trial = None
                            pieces.append(part.text)
                            yield part.text
                except LLMError as e:
                    failure = e
                finally:
                    # a reader that stopped early (GeneratorExit) lets an in-process model finish its piece
                    if feed is not None:
                        feed.close(STOP_GRACE_S if self._local is not None else 0.0)
                if failure is None:
                    break
                self._account(usage, calls=1, seconds=time.perf_counter() - begun)
                trial = self._failed(
                    failure, attempt=attempt, clock=clock, trial=trial, usage=usage, handed=len(pieces)
                )
                attempt += 1
            text = "".join(pieces)
            if not completion_tokens:  # the server sent no counts: count them as generate's backends would
                prompt_tokens = prompt_tokens or sum(self.llm.count_tokens(m["content"]) for m in messages)
                completion_tokens = self.llm.count_tokens(text) if text else 0
            self._breaker.succeeded()
            trial = None
            self._account(
                usage,
                calls=1,
                seconds=time.perf_counter() - begun,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
            self._store_completion(key, Completion(text, prompt_tokens, completion_tokens), temperature)
        finally:
            self._breaker.release(trial)

    def score_labels(
        self,
        messages: Sequence[Message],
        labels: Sequence[str],
        *,
        usage: Usage | None = None,
        deadline: float | None = None,
    ) -> dict[str, float]:
        """The backend's label scores, with the same caching, retries, deadline and accounting as :meth:`generate`."""
        return self._score_labels(messages, labels, self._clock(deadline), usage=usage)

    def _score_labels(
        self, messages: Sequence[Message], labels: Sequence[str], clock: _Clock, *, usage: Usage | None = None
    ) -> dict[str, float]:
        if not self.supports_label_scores:
            raise LLMError(f"backend {self.llm.backend!r} cannot score labels; use generation mode")
        key = self._key("labels", messages, {"labels": list(labels)})
        cached = self._cached(key, usage)
        if cached is not None:
            return dict(cached)
        result = self._call(lambda: self.llm.score_labels(messages, labels), usage, clock)  # type: ignore[attr-defined]
        # Backends report no usage for scoring: count the message text (chat template excluded)
        # as prompt and the scored labels as evaluated completion tokens.
        self._account(
            usage,
            prompt_tokens=sum(self.llm.count_tokens(m["content"]) for m in messages),
            completion_tokens=sum(self.llm.count_tokens(label) for label in labels),
        )
        self._store(key, result, 0.0)
        return result

    # -- async --------------------------------------------------------------------

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._sem_loop is not loop:
            self._sem, self._sem_loop = asyncio.Semaphore(self.concurrency), loop
        return self._sem

    async def _slot(self, clock: _Clock, usage: Usage | None) -> asyncio.Semaphore:
        """A concurrency slot, waited for within the deadline; an open circuit fails before the wait."""
        self._refuse_closed(usage)
        self._breaker.refuse_if_open(usage, self._account)
        sem = self._semaphore()
        left = clock.left()
        if left is None:
            await sem.acquire()
            return sem
        try:
            await asyncio.wait_for(sem.acquire(), max(left, 0.0))
        except TimeoutError:
            self._account(usage, failures=1)
            raise self._deadline_error(clock, 0, "waiting for a free slot") from None
        return sem

    async def agenerate(self, messages: Sequence[Message], **kwargs: Any) -> Completion:
        """:meth:`generate` without blocking the event loop, at most ``concurrency`` calls at a time.

        The deadline counts the wait for a slot too.
        """
        clock = self._clock(kwargs.pop("deadline", None))
        sem = await self._slot(clock, kwargs.get("usage"))
        try:
            return await asyncio.to_thread(self._generate, messages, clock, **kwargs)
        finally:
            sem.release()

    async def ascore_labels(
        self, messages: Sequence[Message], labels: Sequence[str], **kwargs: Any
    ) -> dict[str, float]:
        """:meth:`score_labels` without blocking the event loop, at most ``concurrency`` calls at a time."""
        clock = self._clock(kwargs.pop("deadline", None))
        sem = await self._slot(clock, kwargs.get("usage"))
        try:
            return await asyncio.to_thread(self._score_labels, messages, labels, clock, **kwargs)
        finally:
            sem.release()

    # -- internals ----------------------------------------------------------------

    def _key(self, kind: str, messages: Sequence[Message], params: dict[str, Any]) -> str:
        parts: dict[str, Any] = {"backend": self.llm.backend, "model": self.llm.model}
        # one model name on two servers is two models (a fine-tune, another quantisation): the
        # endpoint is part of the key; in-process backends have none, so their keys are unchanged
        endpoint = getattr(self.llm, "cache_endpoint", None) or getattr(self.llm, "base_url", None)
        if endpoint:
            parts["endpoint"] = str(endpoint).rstrip("/")
        return cache_key(**parts, kind=kind, messages=[dict(m) for m in messages], params=params)

    def _generation_key(
        self, messages: Sequence[Message], max_tokens: int, stop: Sequence[str] | None, temperature: float
    ) -> str:
        # one key for generate and stream: a reply cached by either is a hit for both
        params = {"max_tokens": max_tokens, "stop": list(stop or []), "temperature": temperature}
        return self._key("generate", messages, params)

    def _store_completion(self, key: str, done: Completion, temperature: float) -> None:
        value = {"text": done.text, "prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens}
        self._store(key, value, temperature)

    def _cached(self, key: str, usage: Usage | None) -> Any | None:
        if self.cache is None:
            return None
        self._refuse_closed(usage)  # a closed client's own cache is closed too
        value = self.cache.get(key)
        if value is not None:
            self._account(usage, cache_hits=1)
        return value

    def _store(self, key: str, value: Any, temperature: float) -> None:
        # Sampled answers are not reproducible: caching them would freeze one sample.
        if self.cache is None or temperature != 0.0 or self._closed:
            return
        try:
            self.cache.put(key, value)
        except sqlite3.ProgrammingError:
            if not self._closed:  # the client was closed while this call ran: its answer is not kept
                raise

    def _account(self, usage: Usage | None, **deltas: float) -> None:
        self.usage.add(**deltas)
        if usage is not None and usage is not self.usage:
            usage.add(**deltas)

    def _clock(self, deadline: float | None) -> _Clock:
        seconds = self.deadline if deadline is None else deadline
        if seconds is not None and not seconds > 0:
            raise InputError(f"deadline: must be a positive number of seconds or None, got {seconds!r}")
        return _Clock(seconds)

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
            f"{self._name}: a call that timed out {_secs(time.monotonic() - since)} ago is still running in this "
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

    def _try_wait(self, clock: _Clock, attempt: int, usage: Usage | None) -> float | None:
        """How long the next try may take: the timeout or the time left, whichever is less."""
        left = clock.left()
        if left is not None and left <= 0:  # a try with no time cannot answer (and would leave a thread behind)
            self._account(usage, failures=1)
            raise self._deadline_error(clock, attempt, "no time left for another try")
        return self._piece_wait(clock)

    def _piece_wait(self, clock: _Clock) -> float | None:
        left = clock.left()
        if left is None:
            return self.timeout
        return max(0.0, left if self.timeout is None else min(self.timeout, left))

    def _deadline_error(
        self, clock: _Clock, tries: int, detail: str, last: BaseException | None = None
    ) -> LLMTimeoutError:
        what = f"{tries} {'try' if tries == 1 else 'tries'}" + (f", {detail}" if detail else "")
        tail = f"; last: {last}" if last is not None else ""
        deadline = _secs(clock.seconds or 0)
        return LLMTimeoutError(f"{self._name}: no answer within the call's {deadline} deadline ({what}{tail})")

    def _failed(
        self, e: LLMError, *, attempt: int, clock: _Clock, trial: object | None, usage: Usage | None, handed: int = 0
    ) -> object | None:
        """Record try ``attempt``'s failure ``e``; raise what the caller gets, or wait out the backoff and return.

        Returns the half-open circuit's trial token when the call still holds it.
        """
        try:
            if isinstance(e, LLMUnavailableError):
                self._breaker.unavailable(str(e))
                raise e
            if isinstance(e, _QueuedTimeout):  # the model is busy, not broken: the breaker is not told
                self._breaker.note(f"{self._name}: {e}")
            elif isinstance(e, LLMTimeoutError):
                opened = self._breaker.timed_out(f"{self._name}: {e}", trial is not None)
                trial = None
                late = clock.passed()
                pieces = f"after {handed} pieces" if handed else ""
                if opened:
                    said = self._deadline_error(clock, attempt + 1, pieces, e) if late else opened
                    raise LLMUnavailableError(
                        f"{said} (circuit breaker now open: calls fail at once for {_secs(self.breaker_cooldown)})"
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

    def _call(self, fn: Callable[[], T], usage: Usage | None, clock: _Clock) -> T:
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
        job = _Job(fn, local)
        job.start()
        return job.result(wait)


class _Clock:
    """A call's deadline: ``seconds`` from now, or none."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def left(self) -> float | None:
        return None if self.end is None else self.end - time.monotonic()

    def passed(self) -> bool:
        # a millisecond's slack: a wait cut to the time left may wake a hair before the deadline
        return self.end is not None and time.monotonic() >= self.end - 1e-3


class _QueuedTimeout(LLMTimeoutError):
    """A try that timed out waiting for a busy in-process model, before it started."""


class _Breaker:
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
            return LLMUnavailableError(f"{self._reason} (circuit breaker open: next try in {_secs(left)})")
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
        with self._lock:
            self._opened_at, self._reason, self._timeouts, self._trial, self._problem = None, "", 0, None, ""

    def responded(self, problem: str) -> None:
        """The backend answered, with an error: it is reachable, so the circuit closes."""
        with self._lock:
            self._opened_at, self._reason, self._timeouts, self._trial = None, "", 0, None
            self._problem = problem

    def note(self, problem: str) -> None:
        with self._lock:
            self._problem = problem

    def _open(self, reason: str) -> None:
        self._opened_at, self._reason, self._timeouts, self._trial = time.monotonic(), reason, 0, None
        self._problem = reason

    def unavailable(self, reason: str) -> None:
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
        self.succeeded()


class _LocalBackend:
    """An in-process model as the clients over it see it: a gate one call holds at a time, and the
    tries that timed out but still run (and hold the gate)."""

    def __init__(self) -> None:
        self.gate = threading.Lock()
        self._lock = threading.Lock()
        self._abandoned: dict[int, float] = {}  # id of the job -> when it was given up

    def enter(self, wait: float | None, then: Callable[[], float | None]) -> float | None:
        """Take the gate within ``wait`` seconds (None: however long); the call then gets ``then()`` seconds.

        Raises :class:`_QueuedTimeout` when the gate stays taken, or when no time is left after the wait:
        a call that cannot end in time is not started (it could not be stopped).
        """
        if not self.gate.acquire(timeout=-1 if wait is None else wait):
            raise _QueuedTimeout(
                f"the model stayed busy with other calls for {_secs(wait or 0)}; this one never started"
            )
        left = then()
        if left is not None and left <= 0:
            self.gate.release()
            raise _QueuedTimeout("the model stayed busy with other calls until the deadline; this one never started")
        return left

    def abandon(self, job: object) -> None:
        with self._lock:
            self._abandoned.setdefault(id(job), time.monotonic())

    def finished(self, job: object) -> None:
        with self._lock:
            self._abandoned.pop(id(job), None)

    def abandoned_since(self) -> float | None:
        with self._lock:
            return min(self._abandoned.values(), default=None)


_LOCAL: weakref.WeakKeyDictionary[Any, _LocalBackend] = weakref.WeakKeyDictionary()
_LOCAL_LOCK = threading.Lock()


def _local_backend(llm: object) -> _LocalBackend:
    """The shared :class:`_LocalBackend` of ``llm`` (a private one where ``llm`` cannot be a weak key)."""
    with _LOCAL_LOCK:
        try:
            found = _LOCAL.get(llm)
            if found is None:
                found = _LOCAL[llm] = _LocalBackend()
            return found
        except TypeError:  # unhashable or not weak-referenceable
            return _LocalBackend()


class _Job:
    """One try on a daemon thread; whoever waits may give up on it (it is then 'abandoned' until it ends).

    With ``local``, the caller holds the model's gate and the job lets go of it when it ends.
    """

    def __init__(self, fn: Callable[[], Any], local: _LocalBackend | None) -> None:
        self._fn = fn
        self._local = local
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._abandoned = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, daemon=True, name="clir-rag-llm")

    def start(self) -> None:
        try:
            self._thread.start()
        except BaseException:  # no thread (the interpreter is shutting down): the gate is not held by anyone
            if self._local is not None:
                self._local.gate.release()
            raise

    def _work(self) -> None:
        try:
            self._body()
        finally:
            with self._lock:
                if self._local is not None:  # the model is free before the caller hears the job is done
                    self._local.gate.release()
                    if self._abandoned:
                        self._local.finished(self)
                self._done.set()

    def _body(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as e:  # handed to the waiting caller
            self._error = e

    def abandon(self) -> bool:
        """Give up on the job; False when it had finished after all."""
        with self._lock:
            if self._done.is_set():
                return False
            self._abandoned = True
            if self._local is not None:
                self._local.abandon(self)
            return True

    def result(self, wait: float | None) -> Any:
        if not self._done.wait(wait) and self.abandon():
            raise LLMTimeoutError(f"no answer within {_secs(wait or 0)}")
        if self._error is not None:
            raise self._error
        return self._value


class _Feed(_Job):
    """A backend's stream read on a daemon thread into a queue, so the wait for each piece can time out.

    The reader thread closes the backend's stream itself when it stops (a generator cannot be closed
    from another thread while it runs), which frees what the backend holds: a connection, llama.cpp's lock.
    """

    def __init__(
        self,
        start: Callable[[], Iterator[Completion]],
        local: _LocalBackend | None,
        wait: float | None,
        then: Callable[[], float | None],
    ) -> None:
        super().__init__(start, local)
        self._pieces: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._stop = threading.Event()
        if local is not None:
            local.enter(wait, then)
        self.start()

    def _body(self) -> None:
        parts: Iterator[Completion] | None = None
        try:
            parts = self._fn()
            for part in parts:
                if self._stop.is_set():  # the reader has gone: stop generating
                    break
                self._pieces.put(("piece", part))
            self._pieces.put(("end", None))
        except BaseException as e:  # handed to the reader
            self._pieces.put(("error", e))
        finally:
            if parts is not None:
                _close(parts)

    def next(self, wait_for: Callable[[], float | None]) -> Completion | None:
        """The next piece, None at the end; a piece already here is handed out without asking the clock."""
        try:
            kind, value = self._pieces.get_nowait()
        except queue.Empty:
            wait = wait_for()
            try:
                kind, value = self._pieces.get(timeout=wait)
            except queue.Empty:
                self.abandon()
                raise LLMTimeoutError(f"no answer within {_secs(wait or 0)}") from None
        if kind == "error":
            raise value
        return value if kind == "piece" else None

    def close(self, grace: float) -> None:
        """Stop the reader; wait up to ``grace`` seconds for it to let go of the backend, else abandon it.

        A reader already given up on (timed out) is not waited for again.
        """
        self._stop.set()
        if grace > 0 and not self._abandoned:
            self._done.wait(grace)
        self.abandon()


def _secs(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.2g}s"


def _close(parts: Iterator[Any]) -> None:
    """Close a backend's stream so it frees what it holds (a connection, llama.cpp's lock)."""
    close = getattr(parts, "close", None)
    if close is None:
        return
    try:
        close()
    except ValueError:  # still running in another thread: it is closed when collected
        pass

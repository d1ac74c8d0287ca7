"""LLMClient: one robust way to call any backend.

Around a backend it adds what every caller needs and no backend should
repeat: the persistent cache, usage accounting, a timeout per try, bounded
retries with exponential backoff for transient failures, a total deadline per
call, a concurrency limit for async callers, and a circuit breaker.

This module holds the calls and the cache. Running a call (timeouts, deadline,
retries, accounting) is :mod:`clir_rag.llm.retries`; the circuit breaker's
states are described in :mod:`clir_rag.llm.breaker`; trying on threads that can
be given up, and why in-process backends cannot be cancelled, in :mod:`clir_rag.llm.jobs`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from clir_rag.cache import SqliteCache, cache_key
from clir_rag.errors import LLMError
from clir_rag.llm.base import LLM, Completion, Message, supports_label_scores, supports_streaming
from clir_rag.llm.breaker import TIMEOUTS_TO_OPEN, BreakerState
from clir_rag.llm.jobs import Feed
from clir_rag.llm.retries import Health, RetryingCaller
from clir_rag.llm.timing import Clock
from clir_rag.llm.usage import Usage

#: How long closing a stream early waits for an in-process backend to finish its current piece and
#: let go of the model; one still busy after that counts as an abandoned call (see :mod:`clir_rag.llm.jobs`).
STOP_GRACE_S = 5.0


class LLMClient(RetryingCaller):
    """Call ``llm`` with caching, retries, timeouts, a deadline, a circuit breaker and accounting.

    ``timeout`` bounds each try (and, in :meth:`stream`, the wait for each piece); ``deadline`` bounds
    a whole call: every try, every backoff wait and the wait for a concurrency slot (a stream until its
    last piece). ``None`` turns either off; a call's ``deadline`` argument replaces the client's.
    ``breaker_cooldown`` is how long the circuit stays open before a trial call is let through.

    ``usage`` accumulates over the client's life; pass a fresh :class:`Usage` to a call to also
    account it per query. :meth:`close` (or ``with LLMClient(...) as client:``) ends it.
    :meth:`health`, :attr:`breaker_state` and :meth:`reset_availability` (from
    :class:`~clir_rag.llm.retries.RetryingCaller`) tell and reset the circuit breaker.
    """

    def __init__(
        self,
        llm: LLM,
        cache: SqliteCache | str | Path | None = None,
        *,
        timeout: float | None = 120.0,
        max_retries: int = 2,
        backoff: float = 0.5,
        concurrency: int = 4,
        deadline: float | None = None,
        breaker_cooldown: float = 10.0,
    ) -> None:
        super().__init__(
            llm,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            deadline=deadline,
            breaker_cooldown=breaker_cooldown,
        )
        # a cache the client opened from a path is the client's to close; one handed in is the caller's
        self._owns_cache = isinstance(cache, str | Path)
        self.cache = SqliteCache(cache) if isinstance(cache, str | Path) else cache
        self.concurrency = max(1, concurrency)
        self._close_lock = threading.Lock()
        self._sem: asyncio.Semaphore | None = None
        self._sem_loop: asyncio.AbstractEventLoop | None = None

    @property
    def supports_label_scores(self) -> bool:
        """Whether the backend can score labels (PRP's log-probability mode)."""
        return supports_label_scores(self.llm)

    def count_tokens(self, text: str) -> int:
        """The backend's token count for ``text``."""
        return self.llm.count_tokens(text)

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
        clock: Clock,
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
                feed: Feed | None = None
                failure: LLMError | None = None
                try:
                    feed = Feed(start, self._local, wait, lambda: self._piece_wait(clock))
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
        self, messages: Sequence[Message], labels: Sequence[str], clock: Clock, *, usage: Usage | None = None
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

    async def _slot(self, clock: Clock, usage: Usage | None) -> asyncio.Semaphore:
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


__all__ = ["STOP_GRACE_S", "TIMEOUTS_TO_OPEN", "BreakerState", "Health", "LLMClient"]

"""LLMClient: one robust way to call any backend.

Around a backend it adds what every caller needs and no backend should
repeat: the persistent cache, usage accounting, a timeout per call, bounded
retries with exponential backoff for transient failures, a concurrency
limit for async callers, and a circuit breaker: once a backend is known to
be unavailable (server down, model missing) later calls fail at once with
the same clear error instead of each waiting out its retries.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from clir_rag.errors import LLMError, LLMTransientError, LLMUnavailableError
from clir_rag.llm.base import LLM, Completion, Message, supports_label_scores, supports_streaming
from clir_rag.llm.cache import LLMCache, cache_key
from clir_rag.llm.usage import Usage

T = TypeVar("T")


class LLMClient:
    """Call ``llm`` with caching, retries, timeouts and accounting.

    ``usage`` accumulates over the client's life; pass a fresh :class:`Usage`
    to a call to also account it per query.
    """

    def __init__(
        self,
        llm: LLM,
        *,
        cache: LLMCache | str | Path | None = None,
        timeout: float | None = 120.0,
        max_retries: int = 2,
        backoff: float = 0.5,
        concurrency: int = 4,
    ) -> None:
        self.llm = llm
        self.cache = LLMCache(cache) if isinstance(cache, str | Path) else cache
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.concurrency = max(1, concurrency)
        self.usage = Usage()
        self._unavailable: str | None = None
        self._sem: asyncio.Semaphore | None = None
        self._sem_loop: asyncio.AbstractEventLoop | None = None
        # Timeouts need a thread to abandon; one shared pool avoids a thread per call.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.concurrency + 1)

    @property
    def supports_label_scores(self) -> bool:
        """Whether the backend can score labels (PRP's log-probability mode)."""
        return supports_label_scores(self.llm)

    def count_tokens(self, text: str) -> int:
        """The backend's token count for ``text``."""
        return self.llm.count_tokens(text)

    # -- sync ---------------------------------------------------------------------

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
        usage: Usage | None = None,
    ) -> Completion:
        """The backend's :meth:`~clir_rag.llm.LLM.generate`, cached, retried, timed out and accounted.

        Greedy answers (``temperature`` 0) are cached; ``usage`` also receives this call's
        counts. Raises :class:`~clir_rag.errors.LLMError` once retries are spent, and
        :class:`~clir_rag.errors.LLMUnavailableError` at once after the backend was found down.
        """
        key = self._generation_key(messages, max_tokens, stop, temperature)
        cached = self._cached(key, usage)
        if cached is not None:
            return Completion(**cached)

        def call() -> Completion:
            return self.llm.generate(messages, max_tokens=max_tokens, stop=stop, temperature=temperature)

        result = self._call(call, usage)
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
    ) -> Iterator[str]:
        """:meth:`generate`'s reply as pieces of text, handed out as the backend produces them.

        It shares :meth:`generate`'s cache (a hit is one piece), accounting and circuit breaker.
        ``timeout`` bounds the wait for each piece. A transient failure before the first piece is
        retried; after it, what was handed out cannot be taken back, so it raises
        :class:`~clir_rag.errors.LLMError` and nothing is cached. Backends without
        :meth:`~clir_rag.llm.StreamingLLM.stream` give their whole reply as one piece.
        """
        if not supports_streaming(self.llm):  # generate does the caching, retries and accounting
            yield self.generate(messages, max_tokens=max_tokens, stop=stop, temperature=temperature, usage=usage).text
            return
        key = self._generation_key(messages, max_tokens, stop, temperature)
        cached = self._cached(key, usage)
        if cached is not None:
            yield cached["text"]
            return
        self._refuse_if_unavailable(usage)
        attempt = prompt_tokens = completion_tokens = 0
        pieces: list[str] = []
        while True:
            start = time.perf_counter()
            pieces = []
            prompt_tokens = completion_tokens = 0
            parts = iter(
                self.llm.stream(  # type: ignore[attr-defined]
                    messages, max_tokens=max_tokens, stop=stop, temperature=temperature
                )
            )
            try:
                while (part := self._with_timeout(functools.partial(next, parts, None))) is not None:
                    prompt_tokens += part.prompt_tokens
                    completion_tokens += part.completion_tokens
                    if part.text:
                        pieces.append(part.text)
                        yield part.text
            except LLMUnavailableError as e:
                self._unavailable = str(e)
                self._account(usage, calls=1, failures=1, seconds=time.perf_counter() - start)
                raise
            except LLMTransientError as e:
                self._account(usage, calls=1, seconds=time.perf_counter() - start)
                if pieces or attempt >= self.max_retries:
                    self._account(usage, failures=1)
                    how = f"stream broke after {len(pieces)} pieces" if pieces else f"gave up after {attempt + 1} tries"
                    raise LLMError(f"{self.llm.backend} {self.llm.model}: {how}: {e}") from e
                self._account(usage, retries=1)
                time.sleep(self.backoff * (2**attempt))
                attempt += 1
                continue
            finally:
                _close(parts)
            break
        text = "".join(pieces)
        if not completion_tokens:  # the server sent no counts: count them as generate's backends would
            prompt_tokens = prompt_tokens or sum(self.llm.count_tokens(m["content"]) for m in messages)
            completion_tokens = self.llm.count_tokens(text) if text else 0
        self._account(
            usage,
            calls=1,
            seconds=time.perf_counter() - start,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
        self._store_completion(key, Completion(text, prompt_tokens, completion_tokens), temperature)

    def score_labels(
        self, messages: Sequence[Message], labels: Sequence[str], *, usage: Usage | None = None
    ) -> dict[str, float]:
        """The backend's label scores, with the same caching, retries and accounting as :meth:`generate`."""
        if not self.supports_label_scores:
            raise LLMError(f"backend {self.llm.backend!r} cannot score labels; use generation mode")
        key = self._key("labels", messages, {"labels": list(labels)})
        cached = self._cached(key, usage)
        if cached is not None:
            return dict(cached)
        result = self._call(lambda: self.llm.score_labels(messages, labels), usage)  # type: ignore[attr-defined]
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

    async def agenerate(self, messages: Sequence[Message], **kwargs: Any) -> Completion:
        """:meth:`generate` without blocking the event loop, at most ``concurrency`` calls at a time."""
        async with self._semaphore():
            return await asyncio.to_thread(self.generate, messages, **kwargs)

    async def ascore_labels(
        self, messages: Sequence[Message], labels: Sequence[str], **kwargs: Any
    ) -> dict[str, float]:
        """:meth:`score_labels` without blocking the event loop, at most ``concurrency`` calls at a time."""
        async with self._semaphore():
            return await asyncio.to_thread(self.score_labels, messages, labels, **kwargs)

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
        value = self.cache.get(key)
        if value is not None:
            self._account(usage, cache_hits=1)
        return value

    def _store(self, key: str, value: Any, temperature: float) -> None:
        # Sampled answers are not reproducible: caching them would freeze one sample.
        if self.cache is not None and temperature == 0.0:
            self.cache.put(key, value)

    def _account(self, usage: Usage | None, **deltas: float) -> None:
        self.usage.add(**deltas)
        if usage is not None and usage is not self.usage:
            usage.add(**deltas)

    def _refuse_if_unavailable(self, usage: Usage | None) -> None:
        if self._unavailable is not None:
            self._account(usage, failures=1)
            raise LLMUnavailableError(self._unavailable)

    def _call(self, fn: Callable[[], T], usage: Usage | None) -> T:
        self._refuse_if_unavailable(usage)
        attempt = 0
        while True:
            start = time.perf_counter()
            try:
                result = self._with_timeout(fn)
                self._account(usage, calls=1, seconds=time.perf_counter() - start)
                return result
            except LLMUnavailableError as e:
                self._unavailable = str(e)
                self._account(usage, calls=1, failures=1, seconds=time.perf_counter() - start)
                raise
            except LLMTransientError as e:
                self._account(usage, calls=1, seconds=time.perf_counter() - start)
                if attempt >= self.max_retries:
                    self._account(usage, failures=1)
                    raise LLMError(
                        f"{self.llm.backend} {self.llm.model}: gave up after {attempt + 1} tries: {e}"
                    ) from e
                self._account(usage, retries=1)
                time.sleep(self.backoff * (2**attempt))
                attempt += 1

    def _with_timeout(self, fn: Callable[[], T]) -> T:
        if self.timeout is None:
            return fn()
        future = self._pool.submit(fn)
        try:
            return future.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise LLMTransientError(f"no answer within {self.timeout:.0f}s") from None

    def reset_availability(self) -> None:
        """Forget an earlier 'unavailable' verdict (after restarting the server, say)."""
        self._unavailable = None


def _close(parts: Iterator[Any]) -> None:
    """Close a backend's stream so it frees what it holds (a connection, llama.cpp's lock)."""
    close = getattr(parts, "close", None)
    if close is None:
        return
    try:
        close()
    except ValueError:  # still running in a timed-out worker thread: it is closed when collected
        pass

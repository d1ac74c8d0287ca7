"""Running a try on a daemon thread, so that waiting for it can time out; an in-process model's gate.

In-process backends (llama.cpp, transformers) cannot be cancelled: a try that
timed out keeps running and keeps the model. :class:`LocalBackend` is that model
as every client over it sees it (one call at a time, and the tries given up on
that still run), so a client queues nothing behind such a call.
"""

from __future__ import annotations

import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from clir_rag.errors import LLMTimeoutError
from clir_rag.llm.base import Completion
from clir_rag.llm.timing import secs


class QueuedTimeout(LLMTimeoutError):
    """A try that timed out waiting for a busy in-process model, before it started."""


class LocalBackend:
    """An in-process model as the clients over it see it: a gate one call holds at a time, and the
    tries that timed out but still run (and hold the gate)."""

    def __init__(self) -> None:
        self.gate = threading.Lock()
        self._lock = threading.Lock()
        self._abandoned: dict[int, float] = {}  # id of the job -> when it was given up

    def enter(self, wait: float | None, then: Callable[[], float | None]) -> float | None:
        """Take the gate within ``wait`` seconds (None: however long); the call then gets ``then()`` seconds.

        Raises :class:`QueuedTimeout` when the gate stays taken, or when no time is left after the wait:
        a call that cannot end in time is not started (it could not be stopped).
        """
        if not self.gate.acquire(timeout=-1 if wait is None else wait):
            raise QueuedTimeout(f"the model stayed busy with other calls for {secs(wait or 0)}; this one never started")
        left = then()
        if left is not None and left <= 0:
            self.gate.release()
            raise QueuedTimeout("the model stayed busy with other calls until the deadline; this one never started")
        return left

    def abandon(self, job: object) -> None:
        """Record that ``job`` was given up on while it still runs (and holds the model)."""
        with self._lock:
            self._abandoned.setdefault(id(job), time.monotonic())

    def finished(self, job: object) -> None:
        """An abandoned ``job`` has ended: it no longer holds the model."""
        with self._lock:
            self._abandoned.pop(id(job), None)

    def abandoned_since(self) -> float | None:
        """When the oldest try still running after being given up on was given up (monotonic); None if none."""
        with self._lock:
            return min(self._abandoned.values(), default=None)


_LOCAL: weakref.WeakKeyDictionary[Any, LocalBackend] = weakref.WeakKeyDictionary()
_LOCAL_LOCK = threading.Lock()


def local_backend(llm: object) -> LocalBackend:
    """The shared :class:`LocalBackend` of ``llm`` (a private one where ``llm`` cannot be a weak key)."""
    with _LOCAL_LOCK:
        try:
            found = _LOCAL.get(llm)
            if found is None:
                found = _LOCAL[llm] = LocalBackend()
            return found
        except TypeError:  # unhashable or not weak-referenceable
            return LocalBackend()


class Job:
    """One try on a daemon thread; whoever waits may give up on it (it is then 'abandoned' until it ends).

    With ``local``, the caller holds the model's gate and the job lets go of it when it ends.
    """

    def __init__(self, fn: Callable[[], Any], local: LocalBackend | None) -> None:
        self._fn = fn
        self._local = local
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._abandoned = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, daemon=True, name="clir-rag-llm")

    def start(self) -> None:
        """Start the thread (with ``local``, the caller holds the gate already)."""
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
        """The job's value (or its exception) within ``wait`` seconds; else it is abandoned: LLMTimeoutError."""
        if not self._done.wait(wait) and self.abandon():
            raise LLMTimeoutError(f"no answer within {secs(wait or 0)}")
        if self._error is not None:
            raise self._error
        return self._value


class Feed(Job):
    """A backend's stream read on a daemon thread into a queue, so the wait for each piece can time out.

    The reader thread closes the backend's stream itself when it stops (a generator cannot be closed
    from another thread while it runs), which frees what the backend holds: a connection, llama.cpp's lock.
    """

    def __init__(
        self,
        start: Callable[[], Iterator[Completion]],
        local: LocalBackend | None,
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
                close_stream(parts)

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
                raise LLMTimeoutError(f"no answer within {secs(wait or 0)}") from None
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


def close_stream(parts: Iterator[Any]) -> None:
    """Close a backend's stream so it frees what it holds (a connection, llama.cpp's lock)."""
    close = getattr(parts, "close", None)
    if close is None:
        return
    try:
        close()
    except ValueError:  # still running in another thread: it is closed when collected
        pass

"""Admission of LLM work: at most ``workers`` jobs at once and ``size`` waiting, places that cannot leak.

Everything here runs in the event loop's thread (no locks needed): a request is admitted (or refused with
:class:`QueueFullError`, a 503) before its response starts, then waits for a running slot while checking that
its client is still there, and gives its place back in a ``finally`` (a stream's when its response ends,
whatever ended it), never when the garbage collector gets to it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio

from clir_rag.errors import ClirRagError

# How often a request waiting for a slot looks whether its client left (then its place is given up).
POLL_S = 0.5


class QueueFullError(ClirRagError):
    """Every LLM slot is busy and the queue is full."""


class ClientGone(Exception):
    """The client disconnected before its work started: nothing is generated for nobody."""


class Admission:
    """At most ``workers`` LLM jobs at once and ``size`` waiting: a request beyond that is refused at once."""

    def __init__(self, workers: int, size: int) -> None:
        self.workers, self.size = workers, size
        self.running = 0  # holding a slot
        self.waiting = 0  # admitted, waiting for a slot
        self._slots: anyio.Semaphore | None = None  # made in the event loop, on first use

    def admit(self) -> Ticket:
        """A place in the queue, or :class:`QueueFullError`; :meth:`Ticket.run` waits for a slot and holds it."""
        limit = self.workers + self.size
        if self.running + self.waiting >= limit:
            raise QueueFullError(f"the service is busy ({limit} LLM requests running or waiting)")
        self.waiting += 1
        return Ticket(self)

    def snapshot(self) -> dict[str, int]:
        """Running and waiting jobs, and the limits (for ``/health``)."""
        return {"running": self.running, "waiting": self.waiting, "workers": self.workers, "size": self.size}

    def _semaphore(self) -> anyio.Semaphore:
        if self._slots is None:
            self._slots = anyio.Semaphore(self.workers)
        return self._slots


class Ticket:
    """A request's place in the :class:`Admission`; given back exactly once, by :meth:`release`."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self.state = "waiting"  # then "running", then "done"

    @asynccontextmanager
    async def run(self, disconnected: Callable[[], Awaitable[bool]] | None = None) -> AsyncIterator[None]:
        """Wait for a running slot and hold it; raises :class:`ClientGone` if ``disconnected()`` says the client
        left while waiting or just before the work would start. The place is given back on exit, always."""
        try:
            slots = self._admission._semaphore()
            while True:
                with anyio.move_on_after(POLL_S):
                    await slots.acquire()
                    break
                if disconnected is not None and await disconnected():
                    raise ClientGone
            self._admission.waiting -= 1
            self._admission.running += 1
            self.state = "running"
            if disconnected is not None and await disconnected():
                raise ClientGone
            yield
        finally:
            self.release()

    def release(self) -> None:
        """Give the place (and the slot, if held) back; later calls do nothing."""
        if self.state == "running":
            self._admission.running -= 1
            self._admission._semaphore().release()
        elif self.state == "waiting":
            self._admission.waiting -= 1
        self.state = "done"

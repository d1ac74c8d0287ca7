"""One writer per index directory: an advisory lock on ``<index>/.lock`` that holds the writer's PID.

The lock is ``fcntl.flock``: the kernel releases it when the holder exits, however it exits
(``kill -9`` included), so a stale lock cannot outlive its process. The PID and start time
in the file only serve the message a second writer gets. Readers never take the lock.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from types import TracebackType

from clir_rag.errors import IndexLockedError

LOCK_FILE = ".lock"
# "the lock's own wait", for :meth:`WriterLock.acquire` (None already means "as long as it takes")
DEFAULT_WAIT: object = object()


class WriterLock:
    """Exclusive write lock on an index directory (or, with ``name``, on one file in a directory:
    ``.<file>.lock`` for a translated corpus), re-entrant within one thread.

    Between processes it is the ``flock``; between threads of one process a condition
    variable, since ``flock`` is held by the process: two threads of a service (an ingestion
    request, a served-query flush) take turns like two processes. ``wait``: seconds to wait
    for another writer to finish (0: fail at once, None: wait as long as it takes). Raises
    :class:`~clir_rag.errors.IndexLockedError` naming the holder when the lock is not free in time.
    """

    def __init__(self, directory: str | Path, wait: float | None = 0.0, name: str = LOCK_FILE) -> None:
        self.directory = Path(directory)
        self.wait = wait
        self.name = name
        self._fd: int | None = None
        self._owner: int | None = None  # the thread holding the lock
        self._depth = 0
        self._cond = threading.Condition()

    @property
    def held(self) -> bool:
        """Whether the calling thread holds the lock now."""
        return self._owner == threading.get_ident()

    def _what(self) -> Path:
        return self.directory if self.name == LOCK_FILE else self.directory / self.name[1:-5]

    def acquire(self, wait: float | object | None = DEFAULT_WAIT) -> None:
        """Take the lock (again, if the calling thread already holds it); ``wait`` overrides the lock's own."""
        me = threading.get_ident()
        limit = self.wait if wait is DEFAULT_WAIT else wait
        assert limit is None or isinstance(limit, (int, float))
        deadline = None if limit is None else time.monotonic() + limit
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            while self._owner is not None:  # another thread of this process writes
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    hint = "" if limit else " (pass --wait to wait for it)"
                    raise IndexLockedError(
                        f"{self._what()} is being written by another thread of this process; one writer at a time{hint}"
                    )
                self._cond.wait(left)
            self._owner = me  # reserved: other threads wait on the condition, not on flock
        try:
            self._fd = self._lock_file(deadline, hint="" if limit else " (pass --wait to wait for it)")
        except BaseException:
            with self._cond:
                self._owner = None
                self._cond.notify_all()
            raise
        self._depth = 1

    def _lock_file(self, deadline: float | None, hint: str) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / self.name, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            delay = 0.05
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise IndexLockedError(
                            f"{self._what()} is being written by another process{_read_holder(fd)}; "
                            f"one writer at a time{hint}"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
            # the PID only serves the message a second writer gets: a full disk must not keep the lock
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode(), 0)
            except OSError:
                pass
            return fd
        except BaseException:
            os.close(fd)  # closing also drops a flock taken above
            raise

    def release(self) -> None:
        """Give the lock back once every :meth:`acquire` of the calling thread has been matched."""
        with self._cond:
            if self._owner != threading.get_ident():
                return
            self._depth -= 1
            if self._depth > 0:
                return
            fd, self._fd = self._fd, None
            try:
                if fd is not None:
                    try:
                        os.ftruncate(fd, 0)
                    except OSError:
                        pass
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
            finally:
                self._owner = None
                self._cond.notify_all()

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
    except OSError:
        return ""
    return f" (PID {text[0]}, since {text[1]})" if len(text) >= 2 else ""

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


class WriterLock:
    """Exclusive, re-entrant (within one object) write lock on an index directory (or, with ``name``,
    on one file in a directory: ``.<file>.lock`` for a translated corpus).

    ``wait``: seconds to wait for another writer to finish (0: fail at once, None: wait
    as long as it takes). Raises :class:`~clir_rag.errors.IndexLockedError` naming the
    holder's PID when the lock is not free in time.
    """

    def __init__(self, directory: str | Path, wait: float | None = 0.0, name: str = LOCK_FILE) -> None:
        self.directory = Path(directory)
        self.wait = wait
        self.name = name
        self._fd: int | None = None
        self._depth = 0
        self._mutex = threading.RLock()

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock (again, if this object already holds it)."""
        with self._mutex:
            if self._fd is not None:
                self._depth += 1
                return
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.directory / self.name, os.O_RDWR | os.O_CREAT, 0o644)
            deadline = None if self.wait is None else time.monotonic() + self.wait
            delay = 0.05
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        holder = _read_holder(fd)
                        os.close(fd)
                        hint = "" if self.wait else " (pass --wait to wait for it)"
                        what = self.directory if self.name == LOCK_FILE else self.directory / self.name[1:-5]
                        raise IndexLockedError(
                            f"{what} is being written by another process{holder}; one writer at a time{hint}"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode(), 0)
            self._fd = fd
            self._depth = 1

    def release(self) -> None:
        """Give the lock back once every :meth:`acquire` of this object has been matched."""
        with self._mutex:
            if self._fd is None:
                return
            self._depth -= 1
            if self._depth > 0:
                return
            fd, self._fd = self._fd, None
            try:
                os.ftruncate(fd, 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

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

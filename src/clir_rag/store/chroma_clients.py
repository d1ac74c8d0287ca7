"""Opening Chroma: a client for a server by URL, or this process's one shared client per store directory.

Telemetry is off. An embedded client is shared by every store of this process
on a directory and reopened when another process changed it (the index says
which state it last saw); a read-only directory is searched from a temporary copy.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from clir_rag.errors import IndexCorruptError, InputError, StoreUnavailableError

log = logging.getLogger("clir_rag")


def open_client(path: str | Path | None, url: str | None, *, create: bool = True) -> Any:
    """A Chroma client: an HTTP client for ``url``, else a persistent one on the directory ``path``.

    Chroma's own errors become :class:`~clir_rag.errors.StoreUnavailableError`; ``create=False``
    refuses a directory without a store (:class:`~clir_rag.errors.IndexCorruptError`).
    """
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if url:
        parsed = urlparse(url if "://" in url else f"http://{url}")
        if not parsed.hostname:
            raise InputError(f"cannot read a host from Chroma URL {url!r}")
        port = parsed.port or (443 if parsed.scheme == "https" else 8000)
        try:
            return chromadb.HttpClient(host=parsed.hostname, port=port, ssl=parsed.scheme == "https", settings=settings)
        except Exception as e:  # chromadb raises ValueError or its transport's errors for a server it cannot reach
            raise StoreUnavailableError(f"cannot reach the Chroma server at {url}: {e}") from None
    if path is None:
        raise InputError("give a directory (embedded Chroma) or a URL (Chroma server)")
    path = Path(path)
    if not create and not (path / "chroma.sqlite3").is_file():
        raise IndexCorruptError(f"{path}: the vector store is missing (no chroma.sqlite3)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except Exception as e:
        raise StoreUnavailableError(f"cannot open the Chroma store in {path}: {type(e).__name__}: {e}") from None


def writable_dir(path: Path) -> bool:
    """Whether files can be created in ``path`` (a read-only mount refuses root too, unlike permissions)."""
    if not os.access(path, os.W_OK):
        return False
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=".clir-rag-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


class EmbeddedClient:
    """This process's one Chroma client for a store directory, reopened when another process changed it.

    Embedded Chroma keeps segment state in memory and caches one client per path in a
    process; a client opened before another process wrote keeps answering from what it loaded
    ("Error finding id"), and so does every later client on that path while it lives. So all
    our stores on a directory share this entry's client, and :meth:`reopen` closes it (Chroma
    stops its system once no client holds it) and opens a fresh one, after the calls in
    flight have finished. A read-only directory is searched from a temporary copy, made once
    per state of the source and removed when replaced or at exit.
    """

    def __init__(self, source: Path) -> None:
        self.source = source
        self.read_only = False
        self.epoch = 0
        self.seen: object = None  # the state (index manifest stamp) this client was opened on
        self._copy: str | None = None
        self._cond = threading.Condition()
        self._users = 0
        self._reopening = False
        self.client = self._open()

    def _open(self) -> Any:
        path = self.source
        if path.is_dir() and not writable_dir(path):
            # Chroma writes to its SQLite file even to read it; a read-only copy serves searches.
            self._copy = tempfile.mkdtemp(prefix="clir-rag-readonly-")
            shutil.copytree(path, Path(self._copy) / "chroma")
            path, self.read_only = Path(self._copy) / "chroma", True
        return open_client(path, None)

    @contextmanager
    def using(self) -> Iterator[Any]:
        """The client, held open for one call (a reopen waits for the calls in flight)."""
        with self._cond:
            while self._reopening:
                self._cond.wait()
            self._users += 1
        try:
            yield self.client
        finally:
            with self._cond:
                self._users -= 1
                self._cond.notify_all()

    def reopen(self, seen: object) -> None:
        """Open a fresh client on the directory as it is now (once per ``seen`` state)."""
        with self._cond:
            if self._reopening or seen == self.seen:
                return  # another thread does it (or did it) for this state
            self._reopening = True
            while self._users:
                self._cond.wait()
        try:
            self.close()
            self.client = self._open()
            self.epoch += 1
            self.seen = seen
        finally:
            with self._cond:
                self._reopening = False
                self._cond.notify_all()

    def close(self) -> None:
        """Close the client and remove a read-only copy."""
        try:
            self.client.close()
        except Exception as e:  # already closed, or its files are gone: nothing left to release
            log.debug("closing the Chroma client of %s: %s", self.source, e)
        if self._copy:
            shutil.rmtree(self._copy, ignore_errors=True)
            self._copy = None


_EMBEDDED: dict[str, EmbeddedClient] = {}
_EMBEDDED_LOCK = threading.Lock()


def embedded_client(path: Path, *, create: bool, seen: object = None) -> EmbeddedClient:
    """This process's shared client on ``path``, opened on first use (``seen``: the state it was opened on)."""
    if not create and not (path / "chroma.sqlite3").is_file():
        raise IndexCorruptError(f"{path}: the vector store is missing (no chroma.sqlite3)")
    key = str(path.resolve())
    with _EMBEDDED_LOCK:
        entry = _EMBEDDED.get(key)
        if entry is None:
            entry = _EMBEDDED[key] = EmbeddedClient(path)
            entry.seen = seen
        return entry


def forget_embedded(path: str | Path) -> None:
    """Close this process's client on ``path`` (before the directory is removed or replaced)."""
    with _EMBEDDED_LOCK:
        entry = _EMBEDDED.pop(str(Path(path).resolve()), None)
    if entry is not None:
        entry.close()


@atexit.register
def _remove_copies() -> None:
    for entry in list(_EMBEDDED.values()):
        if entry._copy:
            shutil.rmtree(entry._copy, ignore_errors=True)

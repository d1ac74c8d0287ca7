"""A persistent key-value cache in one SQLite file, for LLM calls and translations.

Keys hash everything that determines a result (for an LLM call: backend,
model, call kind, messages, decoding parameters; for a translation: model,
languages, text). Greedy decoding makes a cached result the result, so a
repeated evaluation or translation run costs nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from clir_rag.deprecation import renamed

T = TypeVar("T")
# Several processes may share one cache file (parallel eval runs, a server and a batch job). SQLite
# serialises writers; a writer that finds the file locked waits this long before SQLite gives up, and
# then we retry with backoff, so contention slows a run down but never fails it.
BUSY_TIMEOUT_S = 30.0
RETRIES = 8
_UPSERT = "INSERT OR REPLACE INTO calls (key, value) VALUES (?, ?)"


def cache_key(**parts: Any) -> str:
    """A stable key for ``parts`` (JSON with sorted keys, hashed): equal parts give equal keys across runs."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class SqliteCache:
    """``get``/``put`` JSON values by key; safe to share between threads and between processes.

    The file is in WAL mode (readers never wait for a writer) with a busy timeout, and
    an operation that still finds the database locked is retried with backoff.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S
        )
        self._retrying(lambda: self._db.execute("PRAGMA journal_mode=WAL"))
        self._retrying(
            lambda: self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        )

    def _retrying(self, op: Callable[[], T]) -> T:
        for attempt in range(RETRIES):
            try:
                return op()
            except sqlite3.OperationalError as e:
                if ("locked" not in str(e) and "busy" not in str(e)) or attempt == RETRIES - 1:
                    raise
                time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def _fetch(self, query: str, params: list[str]) -> list[Any]:
        return self._db.execute(query, params).fetchall()

    def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or None."""
        with self._lock:
            row = self._retrying(lambda: self._db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone())
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``key``, replacing what was there."""
        blob = json.dumps(value, ensure_ascii=False)
        with self._lock:
            self._retrying(
                lambda: self._db.execute("INSERT OR REPLACE INTO calls (key, value) VALUES (?, ?)", (key, blob))
            )

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """The values stored under ``keys``, by key; keys not stored are left out."""
        found: dict[str, Any] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                marks = ",".join("?" * len(part))
                query = f"SELECT key, value FROM calls WHERE key IN ({marks})"
                rows: list[tuple[str, str]] = self._retrying(functools.partial(self._fetch, query, part))
                for key, value in rows:
                    found[key] = json.loads(value)
        return found

    def put_many(self, items: dict[str, Any]) -> None:
        """Store every ``key: value`` of ``items`` in one transaction."""
        rows = [(k, json.dumps(v, ensure_ascii=False)) for k, v in items.items()]
        with self._lock:
            self._retrying(
                lambda: self._db.executemany("INSERT OR REPLACE INTO calls (key, value) VALUES (?, ?)", rows)
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._retrying(lambda: self._db.execute("SELECT COUNT(*) FROM calls").fetchone())[0])

    def close(self) -> None:
        """Close the database; the cache cannot be used afterwards."""
        with self._lock:
            self._db.close()


# LLMCache was the LLM layer's name for this same store (kept for one release).
_RENAMED = {"LLMCache": "clir_rag.cache.SqliteCache"}


def __getattr__(name: str) -> Any:
    return renamed(__name__, name, _RENAMED)

"""A persistent key-value cache in one SQLite file, for LLM calls and translations.

Keys hash everything that determines a result (for an LLM call: backend,
model, call kind, messages, decoding parameters; for a translation: model,
languages, text). Greedy decoding makes a cached result the result, so a
repeated evaluation or translation run costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any


def cache_key(**parts: Any) -> str:
    """A stable key for ``parts`` (JSON with sorted keys, hashed): equal parts give equal keys across runs."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class SqliteCache:
    """``get``/``put`` JSON values by key; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``key``, replacing what was there."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO calls (key, value) VALUES (?, ?)", (key, json.dumps(value, ensure_ascii=False))
            )

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """The values stored under ``keys``, by key; keys not stored are left out."""
        found: dict[str, Any] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                marks = ",".join("?" * len(part))
                for key, value in self._db.execute(f"SELECT key, value FROM calls WHERE key IN ({marks})", part):
                    found[key] = json.loads(value)
        return found

    def put_many(self, items: dict[str, Any]) -> None:
        """Store every ``key: value`` of ``items`` in one transaction."""
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO calls (key, value) VALUES (?, ?)",
                [(k, json.dumps(v, ensure_ascii=False)) for k, v in items.items()],
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        """Close the database; the cache cannot be used afterwards."""
        with self._lock:
            self._db.close()


# The LLM layer's historical name for the same store.
LLMCache = SqliteCache

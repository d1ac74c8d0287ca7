"""Usage accounting: what a query (or a whole run) cost in calls, tokens and time."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields


@dataclass
class Usage:
    """LLM calls and tokens, thread-safe: what a run cost."""

    calls: int = 0  # calls that reached the model (cache hits excluded)
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0  # wall time spent in model calls
    failures: int = 0  # calls that failed after retries
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **deltas: float) -> None:
        """Add ``deltas`` (field name: amount) to the counters."""
        with self._lock:
            for name, value in deltas.items():
                setattr(self, name, getattr(self, name) + value)

    def merge(self, other: Usage) -> None:
        """Add every counter of ``other``."""
        self.add(**{k: v for k, v in other.as_dict().items()})

    @property
    def requests(self) -> int:
        """Calls plus cache hits: every request made."""
        return self.calls + self.cache_hits

    @property
    def cache_hit_rate(self) -> float:
        """Share of requests answered from the cache."""
        return self.cache_hits / self.requests if self.requests else 0.0

    # a Usage travels between processes (a Ray worker's per-query report): the counters go, the lock is new
    def __getstate__(self) -> dict[str, float]:
        return self.as_dict()

    def __setstate__(self, state: dict[str, float]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def as_dict(self) -> dict[str, float]:
        """The counters by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

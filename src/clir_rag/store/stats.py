"""Per-language embedding statistics of an index, kept exact under incremental indexing.

A multilingual bi-encoder puts a language-specific component into every
embedding, so in a collection of many languages a query prefers passages in
its own language whatever their relevance. Subtracting each language's mean
embedding removes most of that component (Libovický et al., 2020). This
module keeps what the correction needs, per document language:

* ``count``, the running ``sum`` of passage vectors and the running sum of
  their outer products (float64), so means and covariances stay exact when
  passages are added, re-added with new text, or removed;
* bounds on ``|p - ref|`` for the language's passages around a reference
  point ``ref``. They let :mod:`clir_rag.retrieve.debias` stop fetching
  candidates exactly when no unseen passage can still enter the top k. Since
  ``| |p - mu| - |p - ref| | <= |mu - ref|``, they stay valid as the mean
  moves, only looser; :meth:`LanguageStats.tighten` makes them tight again;
* the first and second moments of the *directions* ``(p - ref) / |p - ref|``
  around that same reference point, which ``center-zscore`` standardises
  by. They are exact sums while ``ref`` stays put, and are recomputed from
  the stored vectors whenever :meth:`LanguageStats.tighten` moves it.

and, per query language, the mean of calibration queries
(:meth:`clir_rag.index.CrossLingualIndex.calibrate`) and optionally of the
queries the index has served. The statistics are derived data: they are
rebuilt from the stored vectors by :meth:`LanguageStats.from_vectors`.

Stored in the index directory (also when the vectors live in a Chroma
server), written atomically: ``stats.npz`` for the passages, rewritten by
indexing, and the small ``query-stats.npz`` for the query means.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clir_rag.errors import IndexStatsError, InputError

STATS_FILE = "stats.npz"
QUERY_STATS_FILE = "query-stats.npz"
STATS_VERSION = 2
# Version 1 files lack the direction moments; they still load, and center-zscore asks for a rebuild.
READABLE_VERSIONS = (1, 2)


@dataclass
class PassageMoments:
    """Running first and second moments of one language's passage vectors."""

    count: int
    sum: np.ndarray  # (d,) float64
    sq: np.ndarray  # (d, d) float64: sum of outer products
    ref: np.ndarray  # (d,) the point the radius bounds refer to
    r_lo: float = np.inf  # min |p - ref| over the language's passages (a lower bound once any were removed)
    r_hi: float = 0.0  # max |p - ref| (an upper bound once any were removed)
    # sums of the unit directions (p - ref) / |p - ref| and of their outer products; None in statistics
    # written before they existed (version 1), until rebuilt
    nsum: np.ndarray | None = None
    nsq: np.ndarray | None = None

    @property
    def mean(self) -> np.ndarray:
        """The mean passage vector."""
        return self.sum / max(self.count, 1)

    def covariance(self) -> np.ndarray:
        """The covariance of the passage vectors (population form)."""
        mu = self.mean
        return self.sq / max(self.count, 1) - np.outer(mu, mu)

    @property
    def has_directions(self) -> bool:
        """Whether the direction moments are kept (statistics written since version 2)."""
        return self.nsum is not None and self.nsq is not None

    def direction_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance (population form) of the unit directions ``(p - ref) / |p - ref|``."""
        if self.nsum is None or self.nsq is None:
            raise IndexStatsError(
                "the language statistics predate center-zscore (no direction moments): "
                "rebuild them with clir-rag stats --rebuild"
            )
        n = max(self.count, 1)
        mean = self.nsum / n
        return mean, self.nsq / n - np.outer(mean, mean)

    def _fold_directions(self, x: np.ndarray, sign: float) -> None:
        if self.nsum is None or self.nsq is None:
            return
        u = directions(x, self.ref)
        self.nsum += sign * u.sum(axis=0)
        self.nsq += sign * (u.T @ u)

    def radius_bounds(self) -> tuple[float, float]:
        """Bounds on ``|p - mean|`` that hold for every stored passage of the language."""
        drift = float(np.linalg.norm(self.mean - self.ref))
        return max(self.r_lo - drift, 0.0), self.r_hi + drift


@dataclass
class QueryMean:
    """A running mean of query vectors in one language (calibration or served queries)."""

    count: int
    sum: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """The mean query vector."""
        return self.sum / max(self.count, 1)


@dataclass
class LanguageStats:
    """Exact per-language statistics of an index's vectors (see module docstring)."""

    dim: int
    encoder: str
    passages: dict[str, PassageMoments] = field(default_factory=dict)
    calibration: dict[str, QueryMean] = field(default_factory=dict)
    served: dict[str, QueryMean] = field(default_factory=dict)

    # -- passages ---------------------------------------------------------------------

    @property
    def total(self) -> int:
        """Number of passages the statistics cover (must equal the store's count)."""
        return sum(m.count for m in self.passages.values())

    def add(self, vectors: np.ndarray, langs: Sequence[str]) -> None:
        """Fold passage vectors in (new passages, or the new version of re-added ones)."""
        for lang, x in _groups(vectors, langs, self.dim):
            m = self.passages.get(lang)
            if m is None:
                zeros = np.zeros((self.dim, self.dim))
                m = PassageMoments(
                    0, np.zeros(self.dim), zeros, x.mean(axis=0), nsum=np.zeros(self.dim), nsq=zeros.copy()
                )
                self.passages[lang] = m
            m.count += len(x)
            m.sum += x.sum(axis=0)
            m.sq += x.T @ x
            m._fold_directions(x, 1.0)
            r = np.linalg.norm(x - m.ref, axis=1)
            m.r_lo = min(m.r_lo, float(r.min()))
            m.r_hi = max(m.r_hi, float(r.max()))

    def remove(self, vectors: np.ndarray, langs: Sequence[str]) -> None:
        """Take passage vectors out (deleted passages, or the old version of re-added ones).

        The radius bounds are kept: bounds over a superset still hold.
        """
        for lang, x in _groups(vectors, langs, self.dim):
            m = self.passages.get(lang)
            if m is None or m.count < len(x):
                raise IndexStatsError(
                    f"language statistics hold {0 if m is None else m.count} {lang!r} passages, "
                    f"cannot remove {len(x)}: they are stale; rebuild them (clir-rag stats --rebuild)"
                )
            m.count -= len(x)
            m.sum -= x.sum(axis=0)
            m.sq -= x.T @ x
            m._fold_directions(x, -1.0)
            if m.count == 0:
                del self.passages[lang]

    def tighten(self, lang: str, vectors: np.ndarray) -> None:
        """Move ``lang``'s reference point to its current mean, given all its stored vectors.

        The radius bounds become exact around it and the direction moments are recomputed
        (also where they were missing: this is how version-1 statistics gain them).
        """
        m = self.passages[lang]
        x = np.asarray(vectors, dtype=np.float64).reshape(-1, self.dim)
        m.ref = m.mean.copy()
        r = np.linalg.norm(x - m.ref, axis=1) if len(x) else np.zeros(1)
        m.r_lo, m.r_hi = float(r.min()), float(r.max())
        u = directions(x, m.ref)
        m.nsum, m.nsq = u.sum(axis=0), u.T @ u

    def needs_tightening(self, lang: str, tolerance: float = 0.25) -> bool:
        """Whether the mean moved far enough from the bounds' reference that fetching gets wasteful."""
        m = self.passages[lang]
        drift = float(np.linalg.norm(m.mean - m.ref))
        return drift > tolerance * max(m.r_lo, 1e-6)

    def passage_mean(self, lang: str) -> np.ndarray | None:
        """The mean passage vector of ``lang``, or None when the index holds none in it."""
        m = self.passages.get(lang)
        return None if m is None else m.mean

    def global_mean(self) -> np.ndarray | None:
        """The mean of all passages, whatever their language."""
        n = self.total
        if n == 0:
            return None
        return sum((m.sum for m in self.passages.values()), np.zeros(self.dim)) / n

    @classmethod
    def from_vectors(
        cls, batches: Iterable[tuple[np.ndarray, Sequence[str]]], *, dim: int, encoder: str
    ) -> LanguageStats:
        """Statistics recomputed from scratch from ``(vectors, langs)`` batches (all stored passages)."""
        stats = cls(dim=dim, encoder=encoder)
        by_lang: dict[str, list[np.ndarray]] = {}
        for vectors, langs in batches:
            stats.add(vectors, langs)
            for lang, x in _groups(vectors, langs, dim):
                by_lang.setdefault(lang, []).append(x)
        for lang, xs in by_lang.items():
            stats.tighten(lang, np.concatenate(xs))
        return stats

    # -- queries ----------------------------------------------------------------------

    def add_queries(self, vectors: np.ndarray, langs: Sequence[str], *, served: bool = False) -> None:
        """Fold query vectors into the calibration means (or, with ``served``, the served-query means)."""
        target = self.served if served else self.calibration
        for lang, x in _groups(vectors, langs, self.dim):
            qm = target.setdefault(lang, QueryMean(0, np.zeros(self.dim)))
            qm.count += len(x)
            qm.sum += x.sum(axis=0)

    # -- persistence ------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """Write the passage statistics (``stats.npz``) and the query means (``query-stats.npz``)."""
        self.save_passages(directory)
        self.save_queries(directory)

    def save_passages(self, directory: str | Path) -> None:
        """Write the passage statistics (``stats.npz``) alone: the query means have writers of their own."""
        arrays: dict[str, np.ndarray] = {}
        for lang, m in self.passages.items():
            arrays[f"p/{lang}/count"] = np.array(m.count)
            arrays[f"p/{lang}/sum"] = m.sum
            arrays[f"p/{lang}/sq"] = m.sq
            arrays[f"p/{lang}/ref"] = m.ref
            arrays[f"p/{lang}/bounds"] = np.array([m.r_lo, m.r_hi])
            if m.nsum is not None and m.nsq is not None:
                arrays[f"p/{lang}/nsum"] = m.nsum
                arrays[f"p/{lang}/nsq"] = m.nsq
        self._write(Path(directory) / STATS_FILE, arrays)

    def save_queries(self, directory: str | Path) -> None:
        """Write only the query means: small, so recording served queries stays cheap."""
        arrays: dict[str, np.ndarray] = {}
        for kind, means in (("c", self.calibration), ("s", self.served)):
            for lang, qm in means.items():
                arrays[f"{kind}/{lang}/count"] = np.array(qm.count)
                arrays[f"{kind}/{lang}/sum"] = qm.sum
        self._write(Path(directory) / QUERY_STATS_FILE, arrays)

    def with_queries(self, calibration: dict[str, QueryMean], served: dict[str, QueryMean]) -> LanguageStats:
        """These passage statistics (shared, not copied) with other query means."""
        return LanguageStats(self.dim, self.encoder, self.passages, calibration, served)

    def load_queries(self, directory: str | Path) -> None:
        """Replace the query means by those stored in ``directory`` (none stored: none)."""
        self.calibration, self.served = {}, {}
        qfile = Path(directory) / QUERY_STATS_FILE
        if qfile.exists():
            self._fold(_read(qfile, Path(directory)))

    def _write(self, file: Path, arrays: dict[str, np.ndarray]) -> None:
        arrays = {
            "version": np.array(STATS_VERSION),
            "dim": np.array(self.dim),
            "encoder": np.array(self.encoder),
            **arrays,
        }
        fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.stem}-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, directory: str | Path) -> LanguageStats:
        """Read the statistics; a missing or unreadable passage file is an :class:`IndexStatsError`."""
        directory = Path(directory)
        data = _read(directory / STATS_FILE, directory)
        stats = cls(dim=int(data["dim"]), encoder=str(data["encoder"]))
        qfile = directory / QUERY_STATS_FILE
        if qfile.exists():
            data = {**data, **_read(qfile, directory)}
        stats._fold(data)
        return stats

    def _fold(self, data: dict[str, np.ndarray]) -> None:
        stats = self
        for key in data:
            parts = key.split("/")
            if len(parts) != 3 or parts[2] != "count":
                continue
            kind, lang, _ = parts
            count = int(data[key])
            if kind == "p":
                lo, hi = (float(x) for x in data[f"p/{lang}/bounds"])
                stats.passages[lang] = PassageMoments(
                    count,
                    data[f"p/{lang}/sum"],
                    data[f"p/{lang}/sq"],
                    data[f"p/{lang}/ref"],
                    lo,
                    hi,
                    data.get(f"p/{lang}/nsum"),
                    data.get(f"p/{lang}/nsq"),
                )
            else:
                target = stats.calibration if kind == "c" else stats.served
                target[lang] = QueryMean(count, data[f"{kind}/{lang}/sum"])


def _read(file: Path, directory: Path) -> dict[str, np.ndarray]:
    fix = f"rebuild them from the stored vectors: clir-rag stats --rebuild --index {directory}"
    if not file.exists():
        raise IndexStatsError(
            f"{file}: the index has no language statistics (built before they existed, or the file was deleted); {fix}"
        )
    try:
        with np.load(file, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as e:
        raise IndexStatsError(f"{file}: unreadable language statistics ({e}); {fix}") from None
    if "version" not in data or int(data["version"]) not in READABLE_VERSIONS:
        raise IndexStatsError(f"{file}: not statistics format {STATS_VERSION}; {fix}")
    return data


def directions(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Unit vectors ``(x - ref) / |x - ref|`` row by row; a row at ``ref`` has no direction and gives 0."""
    d = np.asarray(x, dtype=np.float64) - ref
    norm = np.linalg.norm(d, axis=1, keepdims=True)
    return np.divide(d, norm, out=np.zeros_like(d), where=norm > 1e-9)


def _groups(vectors: np.ndarray, langs: Sequence[str], dim: int) -> Iterable[tuple[str, np.ndarray]]:
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != dim or len(x) != len(langs):
        raise InputError(f"expected {len(langs)} vectors of {dim} dimensions, got an array of shape {x.shape}")
    if not len(x):
        return
    langs_arr = np.asarray(langs)
    for lang in sorted(set(langs)):
        yield lang, x[langs_arr == lang]

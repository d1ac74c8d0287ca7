"""The reading half of an index: searching it, with retrievers that follow every write, whoever makes it.

Each query runs on the index's current :class:`~clir_rag.index.snapshot.Snapshot`, the latest
committed state of its directory (how readers follow writers: :mod:`clir_rag.index.snapshot`),
with the language statistics as they stand (:mod:`clir_rag.index.stats_view`). Here: the
retrieval modes, the debias choice, document ranking, and :class:`FollowingRetriever`, which
rebuilds its retriever over each new state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from clir_rag.errors import InputError
from clir_rag.index.snapshot import Health, Snapshot
from clir_rag.index.stats_view import StatsView
from clir_rag.retrieve import BM25Retriever, DenseRetriever, DocumentRetriever, HybridRetriever, Retriever
from clir_rag.retrieve.base import BaseRetriever
from clir_rag.retrieve.debias import DEFAULT_SHRINK, DebiasedDenseRetriever, check_debias, resolve_auto
from clir_rag.types import RETRIEVAL_MODES, Aggregation, Debias, FusionMethod, Query, Ranking
from clir_rag.types import RetrievalMode as Mode

DebiasOption = Debias


class IndexReader(StatsView):
    """Searching an index directory; see the module docstring. :class:`~clir_rag.index.CrossLingualIndex` is one."""

    def resolve_debias(self, debias: DebiasOption, query_lang: str | None = None) -> str:
        """What ``debias`` does here: ``auto`` is ``center-zscore`` over a collection of translations and
        ``center`` over other collections with several document languages, and with one
        it is ``center`` only for a query whose language mean is known (see
        :func:`clir_rag.retrieve.debias.resolve_auto`). Without ``query_lang``, ``auto`` stays ``auto``
        on a one-language index, decided per query.
        """
        return self._resolve_debias(self.snapshot(), debias, query_lang)

    def _resolve_debias(self, snap: Snapshot, debias: DebiasOption, query_lang: str | None = None) -> str:
        if debias != "auto":
            return check_debias(debias)
        stats = self._stats_of(snap)
        if len(stats.passages) > 1 or query_lang is not None:
            return resolve_auto(stats, query_lang, snap.store.matrix())
        return "auto" if stats.calibration or stats.served else "none"

    def retriever(
        self,
        mode: Mode = "dense",
        *,
        fusion: FusionMethod = "balanced",
        weights: Sequence[float] | None = None,
        documents: Aggregation | None = None,
        debias: DebiasOption = "auto",
        shrink: float = DEFAULT_SHRINK,
        record_queries: bool = False,
    ) -> FollowingRetriever:
        """A retriever over this index that follows its writes; ``documents`` aggregates passages to documents, exactly.

        Each query runs on the index's current state (:meth:`snapshot`): a retriever built
        once in a long-lived application sees documents indexed later, by this process or another.

        ``documents="maxp"`` ranks documents by their best passage, ``"firstp"`` by their first
        (:class:`~clir_rag.retrieve.DocumentRetriever`): every passage counts, so a document whose
        best passage would rank 500th among passages is still found, and k documents come back
        whenever the index holds k. For long documents 128-token passages ranked best
        (evals/README.md, "Long documents").

        ``dense`` is the default because, across languages and without translation,
        BM25 mostly adds noise: on XQuAD en->de, RRF of dense and BM25 scores nDCG@20
        0.67 against dense's 0.92 (evals/README.md). ``hybrid`` fuses them with
        ``fusion="balanced"`` by default (:func:`~clir_rag.retrieve.fusion.balanced_fusion`):
        the dense ranking's languages stay where they are and BM25 reorders documents in the
        query's language only, so a multilingual index keeps its balance and a cross-lingual
        query loses nothing to BM25 noise. ``fusion="rrf"`` is plain reciprocal rank fusion.

        ``debias`` corrects the dense side for language bias (see
        :mod:`clir_rag.retrieve.debias`): ``center``, ``zscore``, ``none``, or ``auto``
        (:meth:`resolve_debias`). Anything but ``none`` needs the index's language statistics
        and raises :class:`~clir_rag.errors.IndexStatsError` when they are missing or stale.
        ``record_queries`` folds served queries into a running query mean, used for
        query languages without passages or calibration.
        """
        if mode not in RETRIEVAL_MODES:
            raise InputError(f"unknown mode {mode!r}: use 'dense', 'bm25' or 'hybrid'")

        def build(snap: Snapshot) -> Retriever:
            method = self._resolve_debias(snap, debias) if mode != "bm25" else "none"
            if record_queries and debias == "auto" and mode != "bm25":
                method = "auto"  # decided per query, so that served queries can start to count
            if method == "none" and not record_queries:
                dense: Retriever = DenseRetriever(snap.store, self.encoder)
            else:
                dense = DebiasedDenseRetriever(
                    snap.store,
                    self.encoder,
                    lambda: self._stats_of(snap),
                    method,  # type: ignore[arg-type]
                    shrink=shrink,
                    record_queries=self.record_served_query if record_queries else None,
                )
            if mode == "dense":
                r: Retriever = dense
            elif mode == "bm25":
                r = BM25Retriever(self._bm25_of(snap), snap.store)
            else:
                r = HybridRetriever(
                    [dense, BM25Retriever(self._bm25_of(snap), snap.store)], method=fusion, weights=weights
                )
            return DocumentRetriever(r, documents) if documents else r

        return FollowingRetriever(self.snapshot, build)

    def search(
        self,
        query: Query | str,
        k: int = 10,
        *,
        mode: Mode = "dense",
        langs: Sequence[str] | None = None,
        debias: DebiasOption = "auto",
    ) -> Ranking:
        """The top ``k`` passages for ``query`` (see :meth:`retriever` for ``mode`` and ``debias``)."""
        return self.retriever(mode, debias=debias).retrieve(query, k, langs=langs)


class FollowingRetriever(BaseRetriever):
    """A retriever rebuilt over each new state of an index: every query runs on one state, the latest.

    ``build`` makes the concrete retriever for a :class:`Snapshot`; it is called again only
    when the index's state changed since the last query.
    """

    def __init__(self, current: Callable[[], Snapshot], build: Callable[[Snapshot], Retriever]) -> None:
        self._current = current
        self._build = build
        self._lock = threading.Lock()
        snap = current()
        self._state: tuple[Snapshot, Retriever] = (snap, build(snap))
        self.name = self._state[1].name

    @property
    def inner(self) -> Retriever:
        """The retriever over the index's current state."""
        snap = self._current()
        state = self._state
        if state[0] is snap:
            return state[1]
        with self._lock:
            if self._state[0] is not snap:
                self._state = (snap, self._build(snap))
            return self._state[1]

    def retrieve(
        self, query: Query | str, k: int = 10, *, langs: Sequence[str] | None = None, **kwargs: Any
    ) -> Ranking:
        """The inner retriever's :meth:`~clir_rag.retrieve.Retriever.retrieve` (its own keywords pass through)."""
        return self.inner.retrieve(query, k, langs=langs, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.inner, name)  # rrf_k, method, ...: the current retriever's settings

    def _rank_documents(self, query: Query, k: int, method: str, langs: list[str] | None) -> Ranking | None:
        inner = self.inner
        if isinstance(inner, HybridRetriever):  # fused from each member's exact document ranking
            return DocumentRetriever(inner, method).retrieve(query, k, langs=langs)  # type: ignore[arg-type]
        exact = getattr(inner, "rank_documents", None)
        return exact(query, k, method, langs=langs) if exact is not None else None


__all__ = ["DebiasOption", "FollowingRetriever", "Health", "IndexReader", "Mode", "Snapshot"]

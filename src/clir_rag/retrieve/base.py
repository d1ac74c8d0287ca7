"""The retriever protocol: a query in, a :class:`~clir_rag.types.Ranking` out."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from clir_rag.errors import InputError
from clir_rag.languages import normalize_language
from clir_rag.types import Aggregation, Query, Ranking


@runtime_checkable
class Retriever(Protocol):
    """Anything that ranks passages for a query.

    ``langs`` restricts results to documents in those languages (None: all).
    """

    name: str

    def retrieve(self, query: Query | str, k: int = 10, *, langs: Sequence[str] | None = None) -> Ranking:
        """The top ``k`` candidates for ``query``, best first, in documents of ``langs`` only (None: all).

        Raises :class:`~clir_rag.errors.InputError` for a query it cannot serve
        (say, one whose language it needs and cannot tell).
        """
        ...


class BaseRetriever:
    """The machinery every retriever shares: query and language normalisation, and the async form.

    A subclass implements :meth:`_retrieve`, which gets a :class:`Query` and
    normalised language codes (sorted, deduplicated, None for all), and may
    implement :meth:`_rank_documents` for exact document rankings.
    """

    name: str = "retriever"

    def retrieve(self, query: Query | str, k: int = 10, *, langs: Sequence[str] | None = None) -> Ranking:
        """See :meth:`Retriever.retrieve`; raises :class:`~clir_rag.errors.InputError` for ``k < 1``."""
        return self._retrieve(as_query(query), check_k(k), as_langs(langs))

    async def aretrieve(self, query: Query | str, k: int = 10, *, langs: Sequence[str] | None = None) -> Ranking:
        """:meth:`retrieve` in a worker thread: embedding and scoring are CPU-bound and would block the loop."""
        return await asyncio.to_thread(self.retrieve, query, k, langs=langs)

    def rank_documents(
        self, query: Query | str, k: int, method: Aggregation = "maxp", *, langs: Sequence[str] | None = None
    ) -> Ranking | None:
        """The top ``k`` documents, each scored by its best (``maxp``) or first (``firstp``) passage, exactly.

        None when this retriever cannot rank documents exactly here (then
        :class:`~clir_rag.retrieve.DocumentRetriever` aggregates passage lists).
        """
        return self._rank_documents(as_query(query), check_k(k), method, as_langs(langs))

    def _retrieve(self, query: Query, k: int, langs: list[str] | None) -> Ranking:
        raise NotImplementedError

    def _rank_documents(self, query: Query, k: int, method: Aggregation, langs: list[str] | None) -> Ranking | None:
        return None


def check_k(k: int) -> int:
    """``k`` if it is a usable result count (at least 1); else an InputError."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise InputError(f"k must be a whole number of at least 1, got {k!r}")
    return k


def as_query(query: Query | str) -> Query:
    """``query`` as a :class:`Query` (a string becomes one without an id or language)."""
    return query if isinstance(query, Query) else Query(text=query)


def as_langs(langs: Sequence[str] | None) -> list[str] | None:
    """Normalised language codes, sorted and deduplicated; None (or nothing) means every language."""
    if langs is None:
        return None
    if isinstance(langs, str):
        langs = [langs]
    return sorted({normalize_language(x) for x in langs}) or None

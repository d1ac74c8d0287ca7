"""The retriever protocol: a query in, a :class:`~clir_rag.types.Ranking` out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from clir_rag.languages import normalize_language
from clir_rag.types import Query, Ranking


@runtime_checkable
class Retriever(Protocol):
    """Anything that ranks passages for a query.

    ``langs`` restricts results to documents in those languages (None: all).
    """

    name: str

    def retrieve(self, query: Query | str, k: int = 10, *, langs: Sequence[str] | None = None) -> Ranking: ...


def as_query(query: Query | str) -> Query:
    return query if isinstance(query, Query) else Query(text=query)


def as_langs(langs: Sequence[str] | None) -> list[str] | None:
    if langs is None:
        return None
    if isinstance(langs, str):
        langs = [langs]
    return sorted({normalize_language(x) for x in langs}) or None

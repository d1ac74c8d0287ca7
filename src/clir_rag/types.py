"""Core data types: documents flow to passages, passages to candidates, candidates to rankings."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clir_rag.languages import normalize_language


def _nonblank(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} is empty or whitespace")
    return value


def _lang(value: str | None) -> str | None:
    return None if value is None else normalize_language(value)


class Document(BaseModel):
    """A document as the user gives it. ``lang`` may be None (detected at indexing)."""

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    lang: str | None = None
    title: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        return _nonblank(v, "document id").strip()

    @model_validator(mode="after")
    def _check_text(self) -> Document:
        # Real corpora hold titled entries without a body (a stub, a heading): those index their title.
        if not isinstance(self.text, str) or (not self.text.strip() and not (self.title or "").strip()):
            raise ValueError("text is empty or whitespace, and there is no title to index instead")
        return self

    _norm_lang = field_validator("lang")(classmethod(lambda cls, v: _lang(v)))

    def content_hash(self) -> str:
        """Hash of what indexing depends on, so a changed document is re-embedded and an unchanged one is not."""
        h = hashlib.sha1()
        for part in (self.text, self.title or "", self.lang or ""):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()


class Passage(BaseModel):
    """A chunk of a document: the unit that is embedded, indexed and retrieved.

    ``start``/``end`` are character offsets into the document text, so the
    passage can always be traced back (``doc.text[start:end] == text``).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    doc_id: str
    text: str
    lang: str
    index: int = 0
    start: int = 0
    end: int = 0
    title: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    _norm_lang = field_validator("lang")(classmethod(lambda cls, v: normalize_language(v)))


class Query(BaseModel):
    """A user query. ``lang`` None means "detect it" where a component needs it."""

    model_config = ConfigDict(frozen=True)

    text: str
    id: str = "q"
    lang: str | None = None

    @field_validator("text")
    @classmethod
    def _check_text(cls, v: str) -> str:
        return _nonblank(v, "query text")

    _norm_lang = field_validator("lang")(classmethod(lambda cls, v: _lang(v)))


class ScoredCandidate(BaseModel):
    """A passage (or a whole document, after aggregation) with a retrieval score."""

    id: str
    doc_id: str
    score: float
    text: str = ""
    lang: str | None = None
    title: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Ranking(BaseModel):
    """Candidates for one query, best first; scores never increase down the list."""

    query: Query
    candidates: list[ScoredCandidate]
    retriever: str = ""
    level: str = "passage"  # "passage" or "document"

    @model_validator(mode="after")
    def _check_order(self) -> Ranking:
        scores = [c.score for c in self.candidates]
        for i in range(1, len(scores)):
            if scores[i] > scores[i - 1]:
                raise ValueError(
                    f"ranking for query {self.query.id!r} is not sorted: rank {i + 1} "
                    f"scores {scores[i]} above rank {i} ({scores[i - 1]})"
                )
        return self

    @classmethod
    def from_unsorted(cls, query: Query, candidates: list[ScoredCandidate], **kw: Any) -> Ranking:
        """Sort by score (ties broken by id, so results are reproducible) and build."""
        ordered = sorted(candidates, key=lambda c: (-c.score, c.id))
        return cls(query=query, candidates=ordered, **kw)

    def __len__(self) -> int:
        return len(self.candidates)

    def __iter__(self):  # type: ignore[override] - iterate candidates, not pydantic fields
        return iter(self.candidates)

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.candidates]

    @property
    def doc_ids(self) -> list[str]:
        return [c.doc_id for c in self.candidates]

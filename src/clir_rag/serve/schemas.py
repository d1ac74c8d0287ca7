"""The service's request and response bodies (pydantic models; also the OpenAPI schema /docs shows)."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

from clir_rag.types import Debias, Query, RetrievalMode, ScoredCandidate

MAX_QUERY_CHARS = 2000
MAX_TEXT_CHARS = 20_000  # one passage to translate

# JSON ``true`` is not 1 here: pydantic's lax mode would take it (and "5") as a number
StrictInt = Annotated[int, Strict()]

AnswerLangSource = Literal["query_lang", "detected", "client", "index"]


def visible(text: str) -> bool:
    """Whether ``text`` has a character a reader can see.

    Whitespace, controls, format characters (zero-width space and joiners, the BOM, tag characters), private-use
    and unassigned code points are invisible: a query of only those is blank, though ``str.strip`` keeps them.
    """
    return any(not ch.isspace() and unicodedata.category(ch)[0] not in "CZ" for ch in text)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchRequest(_Request):
    """``POST /search``: a question in any language over the index's documents in any languages."""

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    k: StrictInt = Field(10, ge=1, le=100)
    mode: RetrievalMode = "dense"
    languages: list[str] | None = Field(None, max_length=64, description="only passages in these languages")
    debias: Debias = "auto"
    query_lang: str | None = Field(None, description="the question's language; detected when absent")

    @field_validator("query")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not visible(v):
            raise ValueError("the query is blank (nothing but spaces or invisible characters)")
        return v


class AnswerRequest(SearchRequest):
    """``POST /answer``: :class:`SearchRequest` whose top ``k`` (reranked, if the service reranks) are answered from.

    The answer's language is ``query_lang`` when given, else the query's language when lingua is sure of it,
    else ``client_lang`` (the page sends the browser's language), else the language most of the index is in.
    """

    k: StrictInt = Field(10, ge=1, le=50)
    client_lang: str | None = Field(
        None,
        max_length=35,
        description="the user's language (a BCP 47 tag such as de-CH; the page sends navigator.language): "
        "answers in it when the query's own language is unsure; an unknown tag is ignored",
    )


class AnswerResponse(BaseModel):
    """An answer, its citations and the numbered passages it was given.

    ``lang`` (also ``answer_lang``) is the language it was asked in; ``answer_lang_source`` says why:
    ``query_lang`` (given), ``detected`` (lingua was sure of the query's), ``client`` (the client's language),
    ``index`` (the language most of the index is in).
    """

    query: Query
    text: str
    lang: str
    answer_lang: str
    answer_lang_source: AnswerLangSource
    citations: list[int]
    passages: list[ScoredCandidate]
    reranked: bool
    error: str | None = None
    wrong_language: bool = False
    language_fixed: bool = False


class TranslateRequest(_Request):
    """``POST /translate``: one passage into one language."""

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    source_lang: str
    target_lang: str

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not visible(v):
            raise ValueError("the text is blank (nothing but spaces or invisible characters)")
        return v


class TranslateResponse(BaseModel):
    """A translated passage and the translator that made it."""

    text: str
    source_lang: str
    target_lang: str
    translator: str


class DocumentsResponse(BaseModel):
    """What ``POST /documents`` did: documents received, passages stored, embedded anew, unchanged, dropped."""

    documents: int
    passages: int
    embedded: int
    skipped: int
    removed: int


class DeletedResponse(BaseModel):
    """What ``DELETE /documents/{id}`` removed."""

    doc_id: str
    passages: int


class ComponentHealth(BaseModel):
    """One part of the service: ``ok``, ``degraded`` (answers, with a caveat) or ``down``, and why."""

    status: Literal["ok", "degraded", "down"]
    reason: str = ""


class HealthResponse(BaseModel):
    """``GET /health``: the worst component's status, each component's, and what is served."""

    status: Literal["ok", "degraded", "down"]
    components: dict[str, ComponentHealth]
    passages: int | None = None
    languages: list[str] = Field(default_factory=list)
    encoder: str
    queue: dict[str, int]
    writes: bool

"""Core data types: documents flow to passages, passages to candidates, candidates to rankings."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clir_rag.languages import normalize_language

# The enumerations of the package, each spelled once: every signature, schema and config imports its
# Literal from here, and every run-time check uses the matching tuple (get_args of the Literal).

# How a first stage retrieves (clir_rag.index.IndexReader.retriever says what each does).
RetrievalMode = Literal["dense", "bm25", "hybrid"]
RETRIEVAL_MODES: tuple[str, ...] = get_args(RetrievalMode)
# An experiment may also run the hybrid with plain RRF (``hybrid-rrf``), to compare it with the balanced default.
ExperimentRetrieval = Literal[RetrievalMode, "hybrid-rrf"]
EXPERIMENT_RETRIEVALS: tuple[str, ...] = get_args(ExperimentRetrieval)

# The language-bias corrections of dense scores (clir_rag.retrieve.debias says what each does).
Debias = Literal["auto", "none", "center", "zscore", "center-zscore"]
DEBIAS_METHODS: tuple[str, ...] = get_args(Debias)

# From passages to documents: a document scores as its best passage or its first (clir_rag.retrieve.aggregate).
Aggregation = Literal["maxp", "firstp"]
AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)

# Fusing rankings (clir_rag.retrieve.fusion): ``rrf`` and ``weighted`` combine any rankings; ``balanced``
# also keeps the dense ranking's language balance, so it needs a dense ranking first.
PlainFusion = Literal["rrf", "weighted"]
FusionMethod = Literal["balanced", PlainFusion]
FUSION_METHODS: tuple[str, ...] = get_args(FusionMethod)


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
    # what one call learned about this query (BM25-QT: the translation per language, languages skipped);
    # kept on the ranking, never on the retriever, so concurrent queries do not share it
    metadata: dict[str, Any] = Field(default_factory=dict)

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

    # iterate candidates, not pydantic fields
    def __iter__(self):  # type: ignore[override,unused-ignore]
        return iter(self.candidates)

    @property
    def ids(self) -> list[str]:
        """Candidate ids, best first."""
        return [c.id for c in self.candidates]

    @property
    def doc_ids(self) -> list[str]:
        """Document ids of the candidates, best first (repeated where passages share a document)."""
        return [c.doc_id for c in self.candidates]


class Run(dict[str, Ranking]):
    """Document rankings for a set of queries, by query id: what a TREC run file holds.

    The one run type of the package: first stages, oracle and reranked runs,
    the CLI's ``rerank`` and the eval harness all pass runs as this, and
    :func:`clir_rag.eval.trec.read_run` / :func:`~clir_rag.eval.trec.write_run`
    read and write it. Every ranking is at document level, one candidate per
    document, and its scores strictly decrease; where a list's scores did not
    agree with its order (an oracle or reranked order) they are n..1, so
    trec_eval, which orders by score, reads the same order back.
    """

    def __init__(self, rankings: Mapping[str, Ranking] | None = None, name: str = "clir-rag") -> None:
        super().__init__(rankings or {})
        self.name = name

    @classmethod
    def from_rankings(cls, rankings: Iterable[Ranking], name: str = "clir-rag") -> Run:
        """A run from rankings by query; passages of one document are represented by the first (best) of them."""
        run = cls(name=name)
        for ranking in rankings:
            seen: set[str] = set()
            docs = []
            for c in ranking.candidates:
                if c.doc_id not in seen:
                    seen.add(c.doc_id)
                    passage = {"passage_id": c.id} if c.id != c.doc_id else {}
                    docs.append(c.model_copy(update={"id": c.doc_id, "metadata": {**c.metadata, **passage}}))
            run[ranking.query.id] = _ordered(ranking.query, docs, ranking.retriever)
        return run

    @classmethod
    def from_lists(
        cls,
        lists: Mapping[str, Sequence[tuple[str, float]]],
        queries: Mapping[str, Query] | None = None,
        name: str = "clir-rag",
    ) -> Run:
        """A run from ``{query id: [(doc id, score), ...]}`` in rank order.

        ``queries`` gives each id its query; without it a query's text is its id.
        """
        run = cls(name=name)
        for qid, docs in lists.items():
            query = (queries or {}).get(qid) or Query(id=qid, text=qid)
            cands = [ScoredCandidate(id=d, doc_id=d, score=float(s)) for d, s in docs]
            run[qid] = _ordered(query, cands, name)
        return run

    def lists(self) -> dict[str, list[tuple[str, float]]]:
        """``{query id: [(doc id, score), ...]}`` in rank order."""
        return {qid: [(c.doc_id, c.score) for c in r.candidates] for qid, r in self.items()}

    def scores(self) -> dict[str, dict[str, float]]:
        """``{query id: {doc id: score}}`` for ir_measures; the scores keep the rank order exactly."""
        return {qid: {c.doc_id: c.score for c in r.candidates} for qid, r in self.items()}


def _ordered(query: Query, docs: list[ScoredCandidate], retriever: str) -> Ranking:
    """A document ranking in the given order; scores n..1 (first-stage score kept) unless they strictly decrease.

    Strictly, at the 6 decimals a TREC file keeps: trec_eval breaks score ties by document id, not rank.
    """
    rounded = [round(c.score, 6) for c in docs]
    if any(a <= b for a, b in itertools.pairwise(rounded)):
        n = len(docs)
        docs = [
            c.model_copy(update={"score": float(n - i), "metadata": {"first_stage_score": c.score, **c.metadata}})
            for i, c in enumerate(docs)
        ]
    return Ranking(query=query, candidates=docs, retriever=retriever, level="document")

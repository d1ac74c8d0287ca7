"""Rerank a whole run: the one path that ``clir-rag rerank`` and the eval harness both take."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

from clir_rag.errors import InputError, LLMError
from clir_rag.progress import ProgressCallback, progress_reporter
from clir_rag.rerank.base import Reranker, RerankReport, RerankResult
from clir_rag.types import Document, Query, Ranking, Run, ScoredCandidate

# Gives the texts the reranker reads for a query's candidates (in order), e.g. their translations.
TextsFor = Callable[[Query, Sequence[Document]], list[str]]


@runtime_checkable
class BatchReranker(Protocol):
    """A reranker that takes a whole run's rankings at once and hands results back in order
    (:class:`clir_rag.scale.RayReranker`: queries spread over workers on Ray)."""

    name: str

    def rerank_many(self, rankings: Iterable[Ranking]) -> Iterator[RerankResult]:
        """Each ranking reranked, in input order."""
        ...


def rerank_run(
    reranker: Reranker | BatchReranker,
    run: Run,
    documents: Mapping[str, Document],
    *,
    depth: int,
    queries: Mapping[str, Query] | None = None,
    texts: TextsFor | None = None,
    name: str | None = None,
    progress: bool | ProgressCallback = False,
) -> tuple[Run, RerankReport]:
    """Rerank each query's top ``depth`` documents of ``run``; the rest follow in their first-stage order.

    ``documents`` holds (at least) every document in a top ``depth``; ``queries``
    replaces the run's queries (a run read from a file knows only their ids);
    ``texts`` gives what the reranker reads (default: each document's text);
    ``reranker`` may be a :class:`BatchReranker` (queries reranked on Ray). The
    new scores are n..1 over the whole list, the first-stage scores stay in each
    candidate's metadata. Returns the reranked run (named ``name``, default
    ``<run>+<reranker>``) and the report over all queries.

    Raises :class:`~clir_rag.errors.InputError`, before any LLM call, when a query
    has no text or a document of a top ``depth`` is missing from ``documents``.
    A failed or unreadable LLM answer never raises: the reranker keeps that
    part's order and the report counts it. A run in which every answer failed
    (a server down, say) raises :class:`~clir_rag.errors.LLMError`: its output
    would be the first stage under another name.
    """
    chosen = {qid: (queries[qid] if queries is not None and qid in queries else r.query) for qid, r in run.items()}
    if queries is not None:
        missing = sorted(set(run) - set(queries))
        if missing:
            raise InputError(f"queries {', '.join(missing[:5])} of the run have no query text")
    absent = sorted({c.doc_id for r in run.values() for c in r.candidates[:depth]} - set(documents))
    if absent:
        raise InputError(f"{len(absent)} documents of the run are not in the collection (e.g. {absent[0]!r})")

    def candidates(qid: str, ranking: Ranking) -> Ranking:
        q = chosen[qid]
        head = ranking.candidates[:depth]
        docs = [documents[c.doc_id] for c in head]
        shown = texts(q, docs) if texts is not None else [d.text for d in docs]
        cands = [
            ScoredCandidate(id=c.doc_id, doc_id=c.doc_id, score=c.score, text=t, lang=d.lang, title=d.title)
            for c, d, t in zip(head, docs, shown, strict=True)
        ]
        return Ranking(query=q, candidates=cands, level="document")

    total = RerankReport(reranker.name, queries=0)
    out = Run(name=name or f"{run.name}+{reranker.name}")
    report = progress_reporter(progress, len(run), f"{out.name}")
    heads = (candidates(qid, ranking) for qid, ranking in run.items())
    if isinstance(reranker, BatchReranker):
        results = reranker.rerank_many(heads)
    else:
        results = (reranker.rerank(h) for h in heads)
    for done, ((qid, ranking), result) in enumerate(zip(run.items(), results, strict=True), start=1):
        total.merge(result.report)
        order = [c.doc_id for c in result.ranking.candidates] + [c.doc_id for c in ranking.candidates[depth:]]
        first = {c.doc_id: (rank, c) for rank, c in enumerate(ranking.candidates, start=1)}
        out[qid] = Ranking(
            query=chosen[qid],
            candidates=[_moved(*first[d], new_score=float(len(order) - i)) for i, d in enumerate(order)],
            retriever=f"{ranking.retriever}>{reranker.name}",
            level="document",
        )
        report(done)
    report(None)
    if total.outcome.all_failed:  # the rule of clir_rag.outcome, raised here so library callers get it too
        problem = total.problems[0] if total.problems else "no answer could be read"
        raise LLMError(
            f"every LLM answer failed ({total.failures} of {total.attempts}), so nothing was reranked: {problem}"
        )
    return out, total


def _moved(rank: int, c: ScoredCandidate, new_score: float) -> ScoredCandidate:
    # the first-stage score and rank stay readable; metadata already holding them (a rerun) wins
    meta = {"first_stage_score": c.score, "first_stage_rank": rank, **c.metadata}
    return c.model_copy(update={"score": new_score, "metadata": meta})

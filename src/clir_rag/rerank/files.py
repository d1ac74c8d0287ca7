"""Reranking a TREC run file: what ``clir-rag rerank`` does, as functions the command and Python share.

:func:`read_rerank_inputs` reads the run with its queries and the documents of its top candidates and
checks them against each other; :func:`load_reranker` builds the reranker that options name (an LLM
here or on a server, on Ray, or a cross-encoder); :func:`rerank_files` does both, reranks with
:func:`~clir_rag.rerank.run.rerank_run` and writes the result.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clir_rag.errors import InputError
from clir_rag.types import Document, Run

if TYPE_CHECKING:
    from clir_rag.rerank.base import Reranker, RerankReport
    from clir_rag.rerank.run import BatchReranker


@dataclass(frozen=True)
class RerankInputs:
    """A first-stage run read from a file, its queries' texts in it, and the documents of its top candidates."""

    run: Run
    documents: dict[str, Document]


def read_rerank_inputs(run: str | Path, queries: str | Path, corpus: str | Path, *, depth: int) -> RerankInputs:
    """Read the TREC run ``run``, the queries it ranks for and the documents of each query's top ``depth``.

    ``queries`` is a TSV (``qid<TAB>text``) or JSONL file; ``corpus`` a JSONL file or folder, as
    for indexing (only the documents the run needs are kept). Raises
    :class:`~clir_rag.errors.InputError` naming the files when a query of the run is not in
    ``queries`` or a top document is not in ``corpus``, before any model is loaded.
    """
    from clir_rag.corpus import iter_corpus
    from clir_rag.eval.trec import read_queries, read_run

    qs = {q.id: q for q in read_queries(queries)}
    first = read_run(run, queries=qs)
    missing = sorted(set(first) - set(qs))
    if missing:
        raise InputError(f"{run}: queries {', '.join(missing[:5])} are not in {queries}")
    wanted = {c.doc_id for ranking in first.values() for c in ranking.candidates[:depth]}
    docs = {d.id: d for d in iter_corpus(corpus) if d.id in wanted}
    absent = sorted(wanted - set(docs))
    if absent:
        raise InputError(f"{len(absent)} documents of the run are not in {corpus} (e.g. {absent[0]!r})")
    return RerankInputs(first, docs)


def load_reranker(
    method: str = "listwise",
    *,
    model: str | None = None,
    base_url: str | None = None,
    cache: str | Path | None = None,
    depth: int = 100,
    window: int = 20,
    step: int = 10,
    top_k: int = 10,
    passes: int = 10,
    ray: bool = False,
    ray_address: str | None = None,
    per_endpoint: int = 4,
) -> Reranker | BatchReranker:
    """The reranker ``method`` names (see :func:`~clir_rag.rerank.factory.make_reranker`), with its LLM.

    An LLM method asks ``model`` on the OpenAI-compatible server ``base_url``, or with no
    ``base_url`` the GGUF ``model`` (default: the embedded one) in this process, caching calls in
    ``cache`` (SQLite). With ``ray``, workers on Ray (``ray_address``) call the servers of
    ``base_url`` (several, comma-separated), ``per_endpoint`` per server, sharing the cache.
    ``cross-encoder`` runs ``model`` (a directory or hub id) here. Raises
    :class:`~clir_rag.errors.InputError` for options that do not go together.
    """
    from clir_rag.rerank.factory import make_reranker

    settings: dict[str, Any] = {"depth": depth, "window": window, "step": step, "top_k": top_k, "passes": passes}
    if method == "cross-encoder":
        if ray or base_url:
            raise InputError("--method cross-encoder runs here: it takes --model, not --ray or --base-url")
        return make_reranker(method, None, model=model, depth=depth)
    if ray:
        if not base_url or not model:
            raise InputError("--ray reranks with OpenAI-compatible servers: give --base-url and --model")
        from clir_rag.scale import RayReranker, endpoints_from, server_reranker

        endpoints = endpoints_from([base_url])
        make = functools.partial(
            server_reranker,
            method=method,
            model=model,
            cache=str(Path(cache).resolve()) if cache else None,
            replica_of=endpoints[0],  # the servers are replicas of one model: one cache entry per call
            **settings,
        )
        return RayReranker(make, endpoints, per_endpoint=per_endpoint, address=ray_address)
    if base_url and "," in base_url:
        raise InputError("several --base-url servers need --ray")
    from clir_rag.llm import LLMClient, load_llm

    return make_reranker(method, LLMClient(load_llm(model, base_url), cache=cache), **settings)


def rerank_files(
    run: str | Path,
    queries: str | Path,
    corpus: str | Path,
    output: str | Path,
    *,
    method: str = "listwise",
    model: str | None = None,
    base_url: str | None = None,
    cache: str | Path | None = None,
    depth: int = 100,
    window: int = 20,
    step: int = 10,
    top_k: int = 10,
    passes: int = 10,
    ray: bool = False,
    ray_address: str | None = None,
    per_endpoint: int = 4,
    progress: bool = True,
) -> RerankReport:
    """Rerank the TREC run ``run`` and write the result to ``output`` as a TREC run tagged ``clir-rag-<method>``.

    Reads and checks the inputs (:func:`read_rerank_inputs`), then builds the reranker
    (:func:`load_reranker`, which the other options go to), so bad input never loads a model; an
    unknown ``method`` is refused before anything is read. Each query's top ``depth`` is
    reranked, the rest follows in first-stage order. Returns the report over all queries: judge
    how many answers failed with ``exit_code(report.outcome, max_failed_ratio)``
    (:mod:`clir_rag.outcome`). A run whose every LLM answer failed raises
    :class:`~clir_rag.errors.LLMError` and writes nothing.
    """
    from clir_rag.eval.trec import write_run
    from clir_rag.rerank.factory import METHODS
    from clir_rag.rerank.run import rerank_run

    if method not in METHODS:  # before reading anything or loading a model
        raise InputError(f"unknown rerank method {method!r}: use one of {', '.join(METHODS)}")
    inputs = read_rerank_inputs(run, queries, corpus, depth=depth)
    reranker = load_reranker(
        method,
        model=model,
        base_url=base_url,
        cache=cache,
        depth=depth,
        window=window,
        step=step,
        top_k=top_k,
        passes=passes,
        ray=ray,
        ray_address=ray_address,
        per_endpoint=per_endpoint,
    )
    out, report = rerank_run(reranker, inputs.run, inputs.documents, depth=depth, progress=progress)
    write_run(out, output, tag=f"clir-rag-{method}")
    return report

"""Reranking a run's queries on Ray: workers that call OpenAI-compatible servers, a bounded number per endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from clir_rag.errors import ClirRagError, InputError
from clir_rag.rerank.base import Reranker, RerankResult
from clir_rag.scale._ray import start_ray
from clir_rag.types import Ranking

# Builds the reranker a worker runs, given the endpoint (base URL) the worker is bound to.
RerankerFactory = Callable[[str], Reranker]


def server_reranker(
    base_url: str,
    *,
    method: str,
    model: str,
    cache: str | None = None,
    api_key: str | None = None,
    timeout: float = 120.0,
    replica_of: str | None = None,
    **settings: Any,
) -> Reranker:
    """A ``method`` reranker (see :func:`clir_rag.rerank.factory.make_reranker`) over ``model`` at ``base_url``.

    The factory ``clir-rag rerank --ray`` gives :class:`RayReranker` (bind the other arguments with
    :func:`functools.partial`). ``cache`` is the LLM call cache every worker shares (SQLite, safe
    between processes; on a cluster, a path every node reaches). ``replica_of`` is the URL that
    names the model in cache keys when several servers run the same model (default ``base_url``):
    then a call cached from one server is a hit on all of them, and on a later single-server run.
    """
    from clir_rag.llm import LLMClient
    from clir_rag.llm.openai_backend import OpenAICompatibleLLM
    from clir_rag.rerank.factory import make_reranker

    llm = OpenAICompatibleLLM(model, base_url=base_url, api_key=api_key, timeout=timeout, cache_endpoint=replica_of)
    # the worker reranks one query at a time, so one request at a time: the per-endpoint bound is the worker count
    client = LLMClient(llm, cache=cache, timeout=timeout, concurrency=1)
    return make_reranker(method, client, **settings)


class _RerankWorker:
    """One reranker bound to one endpoint; reranks one query at a time."""

    def __init__(self, make: RerankerFactory, endpoint: str) -> None:
        self.reranker = make(endpoint)

    def rerank(self, ranking: Ranking) -> RerankResult:
        return self.reranker.rerank(ranking)


class RayReranker:
    """Spread queries over reranker workers on Ray, ``per_endpoint`` of them for each of ``endpoints``.

    ``make(endpoint)`` builds a worker's reranker (e.g. :func:`server_reranker` bound with
    :func:`functools.partial`); each worker sends one request at a time, so an endpoint never has
    more than ``per_endpoint`` requests in flight, whatever the cluster's size. A worker that dies
    is restarted and its query run again (cached calls are not paid twice). Results come back in
    input order, each with its own report, so the run's usage is the exact sum of its queries'.
    Workers hold no CPU (``num_cpus=0``): they wait on the servers.
    """

    def __init__(
        self,
        make: RerankerFactory,
        endpoints: Sequence[str],
        *,
        per_endpoint: int = 4,
        address: str | None = None,
    ) -> None:
        if not endpoints:
            raise InputError("RayReranker needs at least one endpoint")
        if per_endpoint < 1:
            raise InputError(f"per_endpoint must be at least 1, got {per_endpoint}")
        self.make, self.endpoints, self.per_endpoint, self.address = make, list(endpoints), per_endpoint, address
        self.name = make(self.endpoints[0]).name  # builds the reranker (settings checked) without calling the LLM
        self.workers: list[Any] = []  # the live actor handles while a job runs

    def rerank(self, ranking: Ranking) -> RerankResult:
        """Rerank one ranking on a worker (see :meth:`rerank_many`)."""
        return next(self.rerank_many([ranking]))

    def rerank_many(self, rankings: Iterable[Ranking]) -> Iterator[RerankResult]:
        """Each ranking reranked by some worker, yielded in input order as they finish.

        Rankings are taken from ``rankings`` as workers free up (one in flight per worker), so a
        long run is never all in memory at once.
        """
        import ray

        start_ray(self.address)
        worker = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(_RerankWorker)
        self.workers = [worker.remote(self.make, e) for e in self.endpoints for _ in range(self.per_endpoint)]
        try:
            yield from self._dispatch(iter(rankings))
        finally:
            for w in self.workers:
                ray.kill(w, no_restart=True)
            self.workers = []

    def _dispatch(self, rankings: Iterator[Ranking]) -> Iterator[RerankResult]:
        import ray

        idle = list(range(len(self.workers)))
        running: dict[Any, tuple[int, int]] = {}  # task -> (input position, worker)
        done: dict[int, RerankResult] = {}
        submitted = emitted = 0
        exhausted = False
        while True:
            while idle and not exhausted:
                ranking = next(rankings, None)
                if ranking is None:
                    exhausted = True
                    break
                w = idle.pop(0)
                running[self.workers[w].rerank.remote(ranking)] = (submitted, w)
                submitted += 1
            if not running:
                break
            ready, _ = ray.wait(list(running), num_returns=1)
            for task in ready:
                position, w = running.pop(task)
                try:
                    done[position] = ray.get(task)
                except ray.exceptions.RayError as e:
                    raise ClirRagError(f"reranking on Ray failed for query {position + 1}: {e}") from e
                idle.append(w)
            while emitted in done:
                yield done.pop(emitted)
                emitted += 1


def endpoints_from(urls: Sequence[str]) -> list[str]:
    """The distinct endpoints of ``urls`` (comma-separated lists allowed), in order."""
    out: list[str] = []
    for u in urls:
        for part in u.split(","):
            if part.strip() and part.strip() not in out:
                out.append(part.strip())
    return out

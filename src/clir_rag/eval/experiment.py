"""One CLIR experiment from a config: first stages, oracle ceilings, LLM reranking (OG / DT), scores.

Everything an experiment ranks is written as a TREC run under ``<out>/runs/``
before it is scored, so results can be re-scored (or re-analysed) without
recomputing anything; indexes live under ``<out>/indexes/`` (or ``work``) and
LLM calls and translations are cached, so a rerun is cheap.

Run names: ``<retriever>`` (``-p<tokens>`` appended when several passage
lengths are compared), ``<first stage>+oracle@<depth>``,
``<first stage>+<reranker>-<og|dt>`` (``og``: the original documents reranked, ``dt``: translated ones).
"""

from __future__ import annotations

import base64
import functools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from clir_rag.cache import SqliteCache, cache_key
from clir_rag.config import ExperimentConfig, RerankDocs, load_config
from clir_rag.embed import Encoder, load_encoder
from clir_rag.errors import InputError
from clir_rag.eval.collection import Collection
from clir_rag.eval.datasets import load_collection
from clir_rag.eval.metrics import evaluate, paired_ttest
from clir_rag.eval.oracle import oracle_ranked
from clir_rag.eval.results import ExperimentResult, RunResult
from clir_rag.eval.trec import read_run, write_run
from clir_rag.languages import normalize_language
from clir_rag.progress import progress_reporter
from clir_rag.types import Document, Query, Run

# load_config and ExperimentConfig are re-exported: they were defined here before clir_rag.config existed;
# load_collection too, from clir_rag.eval.datasets (the RAG check reads its collection through it as well)
__all__ = ["ExperimentConfig", "ExperimentResult", "RunResult", "load_collection", "load_config", "run_experiment"]

Ranked = dict[str, list[tuple[str, float]]]

# A reranked run's name ends in the short name of what it read, as in the published results (OG / DT).
_RUN_SUFFIX: dict[RerankDocs, str] = {"original": "og", "translated": "dt"}


@contextmanager
def _bar(progress: bool, label: str, total: int) -> Iterator[Callable[[], None]]:
    """A ``step()`` that advances a progress bar (see :func:`progress_reporter`) and stops it at the end."""
    report = progress_reporter(progress, total, label)
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        report(done)

    try:
        yield step
    finally:
        report(None)


def run_experiment(cfg: ExperimentConfig, *, progress: bool = True, llm: Any = None) -> ExperimentResult:
    """Run every stage of ``cfg``, write runs, ``results.json``, ``report.md`` and plots; return the scores.

    ``llm`` (any backend of :mod:`clir_rag.llm`) overrides ``cfg.llm``'s model for reranking.
    """
    from clir_rag.eval.report import write_report
    from clir_rag.index import CrossLingualIndex
    from clir_rag.retrieve import DocumentRetriever

    out = Path(cfg.out or Path("runs/eval") / cfg.name)
    work = Path(cfg.work) if cfg.work else out / "indexes"
    if cfg.main_measure not in cfg.measures:
        raise InputError(f"main_measure {cfg.main_measure!r} must be one of measures {cfg.measures}")
    collection = load_collection(cfg.dataset, cfg.data)
    queries = collection.queries[: cfg.limit] if cfg.limit else list(collection.queries)
    if not queries:
        raise InputError(f"{collection.name}: no queries to evaluate")
    qrels = {q.id: collection.qrels.get(q.id, {}) for q in queries}
    empty = [qid for qid, rels in qrels.items() if not any(v > 0 for v in rels.values())]
    if empty:
        raise InputError(f"{collection.name}: queries without a relevant document in the qrels: {empty[:5]}")
    docs_by_id = {d.id: d for d in collection.documents}

    results: list[RunResult] = []

    def score(name: str, run: Run, kind: str, retriever: str, tokens: int, base: str | None) -> RunResult:
        path = out / "runs" / f"{name}.trec"
        write_run(run, path, tag=name)
        # re-read what was written: the scores below are those of the file a user can re-score
        means, per_query = evaluate(read_run(path), qrels, cfg.measures)
        res = RunResult(name, kind, retriever, tokens, means, per_query, base)  # type: ignore[arg-type]
        if base is not None:
            other = next(r for r in results if r.name == base)
            res.p_values = {m: paired_ttest(per_query, other.per_query, m) for m in cfg.measures}
        results.append(res)
        return res

    first_runs: dict[str, tuple[str, int, Run]] = {}
    several = len(cfg.passage_tokens) > 1
    doc_lang = {d.id: d.lang or "und" for d in collection.documents}
    parallel = _parallel_queries(cfg, collection, queries)
    # every run asks for the same questions, and experiments over other collections ask them again:
    # encode each once (most of a run's time otherwise), kept beside the indexes
    encoder = QueryVectorCache(load_encoder(cfg.encoder), SqliteCache(work / "query-vectors.sqlite"))
    for tokens in cfg.passage_tokens:
        unit = "w" if cfg.passage_unit == "words" else ""
        titles = "" if cfg.title_format is None else f"-t{cfg.title_format}"
        index = CrossLingualIndex(
            work / f"{collection.index_name}-p{tokens}{unit}{titles}",
            encoder=encoder,
            max_tokens=tokens,
            overlap=min(cfg.overlap, tokens // 4),
            passage_unit=cfg.passage_unit,
            title_format=cfg.title_format,
        )
        index.add(collection.documents, progress=progress)
        if collection.calibration_queries:
            # in memory only: the index may be shared with other experiments, which calibrate their own way
            index.calibrate(collection.calibration_queries, persist=False, replace=True)
        for mode, method in _first_stages(cfg, index, collection.query_lang):
            name = mode + ("" if method == "none" else f"-{method}") + (f"-p{tokens}" if several else "")
            fusion = "rrf" if mode == "hybrid-rrf" else "balanced"
            inner = index.retriever(mode.removesuffix("-rrf"), debias=method, fusion=fusion)  # type: ignore[arg-type]
            retriever = DocumentRetriever(inner, "maxp")
            rankings = []
            t = time.perf_counter()
            with _bar(progress, name, len(queries)) as step:
                for q in queries:
                    rankings.append(retriever.retrieve(q, cfg.k))
                    step()
            secs = time.perf_counter() - t
            run = Run.from_rankings(rankings, name=name)
            ranked = run.lists()
            base = None if not results or results[0].kind != "first" else results[0].name
            res = score(name, run, "first", mode, tokens, base if base != name else None)
            res.extra["ms_per_query"] = 1000 * secs / len(queries)
            res.extra["debias"] = method
            if mode != "bm25" and "auto" in cfg.debias:
                # auto's run is the run of the method it resolves to (deduplicated): say which one it is
                qlang = collection.query_lang if collection.query_lang != "und" else None
                res.extra["auto"] = index.resolve_debias("auto", qlang) == method
            res.extra["language_share"] = language_share(ranked, doc_lang, cfg.language_share_depth)
            res.extra["own_language_share"] = res.extra["language_share"].get(collection.query_lang, 0.0)
            if parallel and cfg.mrc is not None:
                res.extra["mrc"] = _mrc(retriever, ranked, parallel, cfg.mrc.depth, cfg.k, progress, name)
            first_runs[name] = (mode, tokens, run)
            by_id = {q.id: q for q in queries}
            for depth in cfg.oracle_depths:
                oracle = Run.from_lists(oracle_ranked(ranked, qrels, depth), by_id, name=f"{name}+oracle@{depth}")
                score(oracle.name, oracle, "oracle", mode, tokens, name)

    if cfg.rerank:
        _rerank_all(cfg, out, queries, docs_by_id, first_runs, score, progress, llm)

    result = ExperimentResult(cfg, collection.name, len(queries), len(docs_by_id), results, out)
    write_report(result)
    return result


class QueryVectorCache:
    """An encoder that encodes each distinct query text once (in memory, and in ``store`` across runs).

    Everything but :meth:`encode_queries` is the wrapped encoder's. Stored vectors are the encoder's
    float32 output, byte for byte, so a cached run scores exactly as an uncached one.
    """

    def __init__(self, encoder: Encoder, store: SqliteCache | None = None) -> None:
        self._encoder = encoder
        self._store = store
        self._vectors: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._encoder, name)

    def _key(self, text: str) -> str:
        return cache_key(kind="query-vector", encoder=self._encoder.spec, text=text)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts``, from the cache where a text was encoded before."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if todo and self._store is not None:
            keys = {self._key(t): t for t in todo}
            for key, value in self._store.get_many(list(keys)).items():
                self._vectors[keys[key]] = np.frombuffer(base64.b64decode(value), dtype=np.float32).copy()
            todo = [t for t in todo if t not in self._vectors]
        if todo:
            fresh = np.asarray(self._encoder.encode_queries(todo), dtype=np.float32)
            self._vectors.update(zip(todo, fresh, strict=True))
            if self._store is not None:
                self._store.put_many(
                    {self._key(t): base64.b64encode(v.tobytes()).decode() for t, v in zip(todo, fresh, strict=True)}
                )
        return np.stack([self._vectors[t] for t in texts]) if texts else self._encoder.encode_queries([])


def _first_stages(cfg: ExperimentConfig, index: Any, query_lang: str) -> list[tuple[str, str]]:
    """(mode, debias method) pairs to run: BM25 once, dense and hybrid once per distinct resolved method."""
    qlang = query_lang if query_lang != "und" else None
    stages: list[tuple[str, str]] = []
    for mode in cfg.retrievers:
        methods = ["none"] if mode == "bm25" else [index.resolve_debias(m, qlang) for m in cfg.debias]
        for method in dict.fromkeys(methods):
            stages.append((mode, method))
    return stages


def _parallel_queries(
    cfg: ExperimentConfig, collection: Collection, queries: Sequence[Query]
) -> dict[str, list[Query]]:
    if cfg.mrc is None:
        return {}
    if not collection.parallel_queries:
        raise InputError(
            f"mrc: {collection.name} has no parallel queries (XQuAD only: set dataset.parallel_langs, or leave out mrc)"
        )
    wanted = {q.id for q in queries}
    return {
        lang: [q for q in qs if q.id in wanted]
        for lang, qs in collection.parallel_queries.items()
        if lang in {normalize_language(x) for x in cfg.mrc.langs}
    }


def language_share(ranked: Ranked, doc_lang: dict[str, str], depth: int) -> dict[str, float]:
    """Mean share of each document language in the top ``depth`` (a query's share over what it returned)."""
    totals: dict[str, float] = {}
    n = 0
    for docs in ranked.values():
        top = docs[:depth]
        if not top:
            continue
        n += 1
        for d, _ in top:
            lang = doc_lang.get(d, "und")
            totals[lang] = totals.get(lang, 0.0) + 1.0 / len(top)
    return {lang: v / n for lang, v in sorted(totals.items())} if n else {}


def rank_correlation(a: Sequence[str], b: Sequence[str], depth: int) -> float:
    """Spearman's rho between two rankings over the union of their top ``depth`` documents.

    The measure of Yang et al. (2024, arXiv 2509.06195) correlates full rankings of the collection;
    here each document of the union takes its rank in the (longer) lists ``a`` and ``b``, and a
    document missing from a list ranks just below it. Identical rankings give 1; disjoint top lists
    give a negative value.
    """
    from scipy.stats import spearmanr

    ra = {d: i for i, d in enumerate(a, start=1)}
    rb = {d: i for i, d in enumerate(b, start=1)}
    union = sorted(set(a[:depth]) | set(b[:depth]))
    if len(union) < 2:
        return 1.0
    x = [ra.get(d, len(a) + 1) for d in union]
    y = [rb.get(d, len(b) + 1) for d in union]
    if len(set(x)) < 2 or len(set(y)) < 2:
        return 1.0 if x == y else 0.0
    rho = float(spearmanr(x, y).statistic)
    return 0.0 if rho != rho else rho  # NaN (no variance) counts as no agreement


def _mrc(
    retriever: Any, ranked: Ranked, parallel: dict[str, list[Query]], depth: int, k: int, progress: bool, name: str
) -> dict[str, float]:
    """MRC: per other language, the mean over questions of the rank correlation with the main ranking."""
    out: dict[str, float] = {}
    for lang, qs in parallel.items():
        rhos = []
        with _bar(progress, f"{name} MRC {lang}", len(qs)) as step:
            for q in qs:
                other = [c.doc_id for c in retriever.retrieve(q, k).candidates]
                rhos.append(rank_correlation([d for d, _ in ranked[q.id]], other, depth))
                step()
        out[lang] = sum(rhos) / len(rhos) if rhos else 0.0
    out["mean"] = sum(out.values()) / len(out) if out else 0.0
    return out


def _rerank_all(
    cfg: ExperimentConfig,
    out: Path,
    queries: Sequence[Query],
    docs_by_id: dict[str, Document],
    first_runs: dict[str, tuple[str, int, Run]],
    score: Any,
    progress: bool,
    llm: Any,
) -> None:
    from clir_rag.llm import LLMClient, load_llm
    from clir_rag.rerank.factory import reranker_from_spec
    from clir_rag.rerank.run import rerank_run

    out.mkdir(parents=True, exist_ok=True)
    client = None
    # a cross-encoder needs no LLM: load the model only for the rerankers and translators that do
    if llm is not None or any(spec.method != "cross-encoder" for spec in cfg.rerank) or _llm_translation(cfg):
        client = LLMClient(
            llm or load_llm(cfg.llm.model, cfg.llm.base_url), cache=out / cfg.llm.cache if cfg.llm.cache else None
        )
    translator = None
    if any("translated" in spec.docs for spec in cfg.rerank):
        translator = _make_translator(cfg, out, client)
    for spec in cfg.rerank:
        reranker = reranker_from_spec(spec, client)
        label = spec.name or spec.method
        for first_name in spec.first_stages or list(first_runs):
            if first_name not in first_runs:
                raise InputError(f"rerank.first_stages: no first-stage run {first_name!r} (have {list(first_runs)})")
            mode, tokens, first = first_runs[first_name]
            for docs in spec.docs:
                name = f"{first_name}+{label}-{_RUN_SUFFIX[docs]}"
                texts = None
                if docs == "translated":
                    texts = functools.partial(_translate_candidates, translator)
                reranked, report = rerank_run(
                    reranker, first, docs_by_id, depth=spec.depth, texts=texts, name=name, progress=progress
                )
                res = score(name, reranked, "rerank", mode, tokens, first_name)
                u = report.usage
                res.extra.update(
                    reranker=label,
                    docs=docs,
                    depth=spec.depth,
                    llm_calls=u.calls,
                    cache_hits=u.cache_hits,
                    prompt_tokens=u.prompt_tokens,
                    completion_tokens=u.completion_tokens,
                    llm_seconds=round(u.seconds, 2),
                    failures=report.failures,
                    attempts=report.attempts,
                    problems=report.problems[:20],
                )


def _llm_translation(cfg: ExperimentConfig) -> bool:
    """Whether the rerankers read documents translated by the LLM (DT without a CTranslate2 model)."""
    spec = cfg.translation
    return any("translated" in r.docs for r in cfg.rerank) and spec is not None and not spec.model and bool(spec.llm)


def _make_translator(cfg: ExperimentConfig, out: Path, client: Any) -> Any:
    spec = cfg.translation
    if spec is None or not (spec.model or spec.llm):
        raise InputError(
            "rerank.docs includes 'translated': set translation.model (CTranslate2 folder) or translation.llm"
        )
    cache = out / spec.cache if spec.cache else None
    if spec.model:
        from clir_rag.translate.ctranslate2_backend import CTranslate2Translator

        return CTranslate2Translator(spec.model, cache=cache)
    from clir_rag.translate.llm_translator import LLMTranslator

    return LLMTranslator(client, cache=cache)


def _translate_candidates(translator: Any, q: Query, docs: Sequence[Document]) -> list[str]:
    """Candidates not already in the query language, translated into it (cached, so reruns are free)."""
    out = [d.text for d in docs]
    by_lang: dict[str, list[int]] = {}
    for i, d in enumerate(docs):
        if d.lang and q.lang and d.lang != q.lang:
            by_lang.setdefault(d.lang, []).append(i)
    for lang, idx in by_lang.items():
        for i, t in zip(idx, translator.translate([out[i] for i in idx], lang, q.lang), strict=True):
            out[i] = t
    return out

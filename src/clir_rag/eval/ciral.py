"""CIRAL v1.0: English (or native-language) queries against news passages in Hausa, Somali, Swahili, Yoruba.

Topics and qrels are small and read from a data folder laid out as published
(``topics/topics.ciral-v1.0-<lang>-<split>.tsv``, ``-native.tsv`` for queries
in the African language, ``qrels/qrels.ciral-v1.0-<lang>-<qrels split>.tsv``).
The standard evaluation is split ``test-a`` judged with the ``test-a-pools``
qrels, nDCG@20. The dev split has native-language topics only.

The passage corpus (about 2.6M passages over the four languages, JSONL with
``docid``/``title``/``text``/``url``, Hugging Face dataset ``CIRAL/ciral-corpus``,
formerly ``castorini/ciral-corpus``, files ``passages-v1.0/<language>_passages.jsonl``)
is not shipped and must be given by path.

Only queries with at least one relevant passage in the qrels are kept (every
test-a query has one); scoring tools leave the others out anyway.
"""

from __future__ import annotations

from pathlib import Path

from clir_rag.errors import CorpusError
from clir_rag.eval.collection import Collection, assemble, read_jsonl_documents, warn_skipped
from clir_rag.eval.trec import read_qrels, read_queries
from clir_rag.eval.xquad import default_data_dir
from clir_rag.languages import normalize_language
from clir_rag.types import Query

CIRAL_LANGUAGES = {"ha": "hausa", "so": "somali", "sw": "swahili", "yo": "yoruba"}
CIRAL_SPLITS = ("dev", "test-a", "test-b")


def ciral_paths(
    lang: str, split: str = "test-a", qrels_split: str | None = None, native: bool = False, data_dir: Path | None = None
) -> tuple[Path, Path]:
    """(topics file, qrels file) under ``data_dir`` with the published names."""
    folder = data_dir if data_dir is not None else default_data_dir() / "ciral"
    suffix = "-native" if native else ""
    qsplit = qrels_split or ("test-a-pools" if split == "test-a" else split)
    return (
        folder / "topics" / f"topics.ciral-v1.0-{lang}-{split}{suffix}.tsv",
        folder / "qrels" / f"qrels.ciral-v1.0-{lang}-{qsplit}.tsv",
    )


def load_ciral(
    lang: str,
    split: str = "test-a",
    qrels_split: str | None = None,
    query_lang: str = "en",
    data_dir: str | Path | None = None,
    corpus: str | Path | None = None,
    limit: int | None = None,
    calibration_split: str | None = None,
) -> Collection:
    """Load CIRAL for one language; ``corpus`` is the path to that language's passage JSONL.

    ``qrels_split`` defaults to ``test-a-pools`` for ``test-a`` (the standard, deeper judgements)
    and to ``split`` otherwise. ``query_lang`` is ``"en"`` or ``"native"`` (or the collection
    language itself) for the topics translated into the passage language. ``data_dir`` defaults to
    ``default_data_dir()/ciral``; a folder that holds ``ciral/`` is accepted too. Without ``corpus``,
    ``<data_dir>/passages-v1.0/<language>_passages.jsonl`` (the Hugging Face layout) is tried.
    Passages keep their title in :attr:`Document.title`, which the index embeds as
    ``title + "\\n" + text``; ``url`` is kept in metadata. ``limit`` keeps the first n queries.

    ``calibration_split`` names another split whose topics, in the same query language, become
    :attr:`Collection.calibration_queries` (never scored), for estimating the query-language mean
    of English queries over an index without English passages. CIRAL's dev split has native topics
    only, so English test-a runs calibrate on ``test-b``.
    """
    code = normalize_language(lang)
    if code not in CIRAL_LANGUAGES:
        raise CorpusError(f"CIRAL has no {lang!r} collection (languages: {', '.join(CIRAL_LANGUAGES)})")
    if split not in CIRAL_SPLITS:
        raise CorpusError(f"unknown CIRAL split {split!r} (splits: {', '.join(CIRAL_SPLITS)})")
    if query_lang == "native" or normalize_language(query_lang) == code:
        native, qlang = True, code
    elif normalize_language(query_lang) == "en":
        native, qlang = False, "en"
    else:
        raise CorpusError(
            f"CIRAL queries are in English ('en') or {CIRAL_LANGUAGES[code]} ('native'), not {query_lang}"
        )
    folder = Path(data_dir) if data_dir is not None else default_data_dir() / "ciral"
    if (folder / "ciral").is_dir() and not (folder / "topics").is_dir():
        folder = folder / "ciral"
    default_qsplit = "test-a-pools" if split == "test-a" else split
    qsplit = qrels_split or default_qsplit
    topics_path, qrels_path = ciral_paths(code, split, qsplit, native, folder)
    if not topics_path.exists():
        there = sorted(p.name for p in (folder / "topics").glob(f"topics.ciral-v1.0-{code}-*.tsv"))
        raise CorpusError(
            f"{topics_path}: CIRAL topic file not found"
            + (f" (available: {', '.join(there)})" if there else f" (no CIRAL topics for {code} under {folder})")
        )
    queries = read_queries(topics_path, lang=qlang)
    qrels = read_qrels(qrels_path)
    calibration: list[Query] = []
    if calibration_split is not None:
        if calibration_split == split:
            raise CorpusError(f"CIRAL calibration_split must differ from the scored split {split!r}")
        cal_path, _ = ciral_paths(code, calibration_split, None, native, folder)
        if not cal_path.exists():
            raise CorpusError(f"{cal_path}: CIRAL calibration topics not found (English topics: test-a, test-b)")
        calibration = read_queries(cal_path, lang=qlang)

    corpus_path = (
        Path(corpus) if corpus is not None else folder / "passages-v1.0" / f"{CIRAL_LANGUAGES[code]}_passages.jsonl"
    )
    if not corpus_path.is_file():
        raise CorpusError(
            f"CIRAL passage corpus not found at {corpus_path}: the corpus (~2.6M passages over ha/so/sw/yo, JSONL "
            f"with docid/title/text/url; Hugging Face dataset CIRAL/ciral-corpus, formerly castorini/ciral-corpus, "
            f"file passages-v1.0/{CIRAL_LANGUAGES[code]}_passages.jsonl) is not shipped with the topics and qrels "
            f"and must be supplied by path (corpus=..., or --corpus on the command line)"
        )
    documents, skipped = read_jsonl_documents(corpus_path, lang=code)
    warn_skipped(skipped, corpus_path)
    name = f"ciral-{code}-{split}" + ("-native" if native else "") + ("" if qsplit == default_qsplit else f"-{qsplit}")
    collection = assemble(
        name,
        queries,
        documents,
        qrels,
        query_lang=qlang,
        doc_langs=[code],
        limit=limit,
        skipped=skipped,
        source=str(topics_path),
    )
    collection.calibration_queries = calibration
    return collection

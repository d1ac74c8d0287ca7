"""Any test collection given as files: queries, qrels and a corpus in the formats collections ship in.

So that a new collection needs no new code, each part is recognised by content:

* queries: a TREC/CLEF topic file (it contains ``<top>``), JSONL (``id`` or
  BEIR's ``_id``, ``text``, optional ``lang``) or TSV ``qid<TAB>text``;
* qrels: TREC (``qid iter docid rel``) or BEIR's TAB-separated
  ``query-id corpus-id score`` (the header line is detected and skipped);
* corpus: JSONL (``id``/``docid``/``_id``, ``text``, optional ``title`` and
  ``lang``; BEIR's ``corpus.jsonl`` as is) or a folder of ``.txt`` files.

As everywhere in :mod:`clir_rag.eval`, queries without a relevant judgement are
left out (BEIR's ``queries.jsonl`` holds the queries of every split).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from clir_rag.corpus import read_corpus
from clir_rag.errors import CorpusError
from clir_rag.eval.collection import Collection, assemble, read_bytes, read_jsonl_documents, read_text, warn_skipped
from clir_rag.eval.trec import read_qrels, read_queries, read_trec_topics
from clir_rag.languages import normalize_language
from clir_rag.types import Document, Query

_BEIR_HEADER = ["query-id", "corpus-id", "score"]


def read_any_queries(
    path: str | Path, lang: str | None = None, *, fields: Sequence[str] = ("title", "desc")
) -> list[Query]:
    """Queries from a TREC/CLEF topic file (``fields`` joined), JSONL or TSV; ``lang`` where records give none."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: query file not found")
    if re.search(rb"<top>", read_bytes(path)[:65536], re.IGNORECASE):
        return read_trec_topics(path, lang, fields)
    return read_queries(path, lang=lang)


def read_beir_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """BEIR qrels: TAB-separated ``query-id corpus-id score``, with or without the header line."""
    path = Path(path)
    qrels: dict[str, dict[str, int]] = {}
    first = True
    for lineno, line in enumerate(read_text(path, what="qrels file").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("\t")]
        if first and [p.lower() for p in parts] == _BEIR_HEADER:
            first = False
            continue
        first = False
        if len(parts) != 3:
            raise CorpusError(f"{path}:{lineno}: expected 3 TAB-separated columns 'query-id corpus-id score'")
        qid, docid, score = parts
        try:
            qrels.setdefault(qid, {})[docid] = int(score)
        except ValueError:
            raise CorpusError(
                f"{path}:{lineno}: score {score!r} for query {qid!r}, document {docid!r} is not an integer"
            ) from None
    if not qrels:
        raise CorpusError(f"{path}: qrels file holds no judgements")
    return qrels


def read_any_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """TREC or BEIR qrels, told apart by the first line (BEIR's header, or 3 TAB-separated columns)."""
    path = Path(path)
    text = read_text(path, what="qrels file")
    first = next((line for line in text.splitlines() if line.strip()), "")
    parts = [p.strip().lower() for p in first.split("\t")]
    if parts == _BEIR_HEADER or (len(parts) == 3 and len(first.split()) == 3):
        return read_beir_qrels(path)
    return read_qrels(path)


def read_any_corpus(path: str | Path, lang: str | None = None) -> tuple[list[Document], int]:
    """(documents, empty records skipped) from JSONL or a folder of ``.txt`` files."""
    path = Path(path)
    if path.is_dir():
        return read_corpus(path, lang=lang), 0
    return read_jsonl_documents(path, lang=lang)


def load_generic(
    queries: str | Path,
    qrels: str | Path,
    corpus: str | Path,
    *,
    query_lang: str | None = None,
    doc_lang: str | None = None,
    name: str = "generic",
    topic_fields: Sequence[str] = ("title", "desc"),
    limit: int | None = None,
) -> Collection:
    """A collection from three files; ``query_lang``/``doc_lang`` apply where records carry no language.

    The collection's ``query_lang`` is ``query_lang``, else the queries' one language, else ``"und"``;
    ``doc_langs`` lists the documents' languages (empty when they carry none).
    """
    qlang = normalize_language(query_lang) if query_lang else None
    dlang = normalize_language(doc_lang) if doc_lang else None
    query_list = read_any_queries(queries, qlang, fields=topic_fields)
    judgements = read_any_qrels(qrels)
    documents, skipped = read_any_corpus(corpus, dlang)
    warn_skipped(skipped, corpus)
    langs = {q.lang for q in query_list}
    if qlang is None:
        only = next(iter(langs)) if len(langs) == 1 else None
        qlang = only or "und"
    doc_langs = sorted({d.lang for d in documents if d.lang})
    return assemble(
        name,
        query_list,
        documents,
        judgements,
        query_lang=qlang,
        doc_langs=doc_langs,
        limit=limit,
        skipped=skipped,
        source=str(queries),
    )


def load_beir(
    folder: str | Path,
    split: str = "test",
    *,
    query_lang: str | None = None,
    doc_lang: str | None = None,
    limit: int | None = None,
) -> Collection:
    """A BEIR-format folder (``queries.jsonl``, ``corpus.jsonl``, ``qrels/<split>.tsv``), named ``beir-<folder>``.

    BEIR records carry no language; give ``query_lang``/``doc_lang`` for cross-lingual BEIR-style
    collections (mMARCO, CLIRMatrix exports) so the pipeline need not detect them.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(f"{folder}: BEIR folder not found (expected queries.jsonl, corpus.jsonl, qrels/{split}.tsv)")
    name = f"beir-{folder.name}" + ("" if split == "test" else f"-{split}")
    return load_generic(
        folder / "queries.jsonl",
        folder / "qrels" / f"{split}.tsv",
        folder / "corpus.jsonl",
        query_lang=query_lang,
        doc_lang=doc_lang,
        name=name,
        limit=limit,
    )

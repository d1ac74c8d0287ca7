"""A test collection (queries, documents, relevance judgements) and the reading helpers its loaders share.

Every loader (XQuAD, CIRAL, CLEF, BEIR and plain files) returns the same
:class:`Collection`, so the evaluation harness runs one code path whatever
the source. The helpers here hold the rules all loaders follow:

* which queries are evaluated: those with at least one relevant judgement
  (trec_eval and ir_measures leave out queries without any, so keeping them
  would only make ``limit`` and query counts disagree with the scores);
* files are decoded strictly, and a decoding error names file, line and the
  ``encoding`` option (CLEF distributions are ISO-8859-1, not UTF-8);
* JSONL corpora read leniently on empty texts only: published corpora with
  millions of passages (CIRAL, BEIR) hold a few empty records that a user
  cannot fix, so they are skipped, counted and warned about, never dropped
  silently. Anything else malformed is an error naming file and line.
"""

from __future__ import annotations

import gzip
import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from clir_rag.corpus.reader import json_record
from clir_rag.errors import CorpusError, describe_validation
from clir_rag.languages import normalize_language
from clir_rag.types import Document, Query

log = logging.getLogger(__name__)

ENCODING_HINT = (
    "pass the file's encoding with the `encoding` option "
    "(CLEF files are often ISO-8859-1, i.e. encoding='latin-1'; Russian ones KOI8-R or UTF-8)"
)


@dataclass
class Collection:
    """Queries in one language, documents in one or more, graded qrels ``{qid: {docid: rel}}``.

    ``query_lang`` is ``"und"`` when a generic collection's queries carry no
    (or mixed) languages; ``doc_langs`` is empty when documents carry none.
    ``answers`` holds gold answer strings per query and language where the
    collection has them (XQuAD). ``skipped`` counts source documents left out
    because they held no text, so a corpus count that differs from the
    published one can be explained.
    """

    name: str
    queries: list[Query]
    documents: list[Document]
    qrels: dict[str, dict[str, int]]
    query_lang: str
    doc_langs: list[str]
    answers: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # qid -> lang -> answers
    skipped: int = 0
    # Queries of a split that is not scored, for estimating query statistics (debiasing).
    calibration_queries: list[Query] = field(default_factory=list)
    # The same queries in other languages (same ids), where the collection is parallel (XQuAD).
    parallel_queries: dict[str, list[Query]] = field(default_factory=dict)
    # The name of the documents alone, where collections with other queries share them (XQuAD in
    # several query languages): experiments keep one index per corpus, not one per query language.
    corpus: str = ""

    @property
    def index_name(self) -> str:
        """The folder name of this collection's index in an experiment's ``work`` (without the passage length)."""
        return self.corpus or self.name.removesuffix("-half")

    def describe(self) -> str:
        """One line for logs and reports: what was loaded."""
        judged = sum(len(v) for v in self.qrels.values())
        relevant = sum(1 for v in self.qrels.values() for r in v.values() if r > 0)
        langs = ",".join(self.doc_langs) or "?"
        extra = f", {self.skipped} empty documents skipped" if self.skipped else ""
        return (
            f"{self.name}: {len(self.queries)} queries ({self.query_lang}), {len(self.documents)} documents "
            f"({langs}), {judged} judgements ({relevant} relevant){extra}"
        )


def read_bytes(path: Path) -> bytes:
    """Raw file content; ``.gz`` files are decompressed (CLEF and corpus dumps often ship gzipped)."""
    if path.suffix == ".gz":
        try:
            return gzip.decompress(path.read_bytes())
        except (OSError, EOFError) as e:
            raise CorpusError(f"{path}: not a readable gzip file ({e})") from None
    return path.read_bytes()


def decode(data: bytes, path: Path, encoding: str) -> str:
    """Decode strictly; an error names file, line and byte and says how to fix it."""
    try:
        text = data.decode(encoding)
    except LookupError:
        raise CorpusError(f"{path}: unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise CorpusError(
            f"{path}:{line}: cannot decode byte 0x{data[e.start]:02x} as {encoding}; {ENCODING_HINT}"
        ) from None
    return text.removeprefix("\ufeff")


def read_text(path: str | Path, *, encoding: str = "utf-8", what: str = "file") -> str:
    """A whole text file, with errors that name it; ``what`` says which file the caller expected."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: {what} not found")
    if not path.is_file():
        raise CorpusError(f"{path}: {what} is not a file")
    return decode(read_bytes(path), path, encoding)


def read_jsonl_documents(
    path: str | Path, *, lang: str | None = None, encoding: str = "utf-8"
) -> tuple[list[Document], int]:
    """Documents from JSONL (``id``/``docid``/``_id``, ``text``, optional ``title``, ``lang``); returns (docs, skipped).

    A record whose text is empty but whose title is not becomes a document whose
    text is the title (BEIR has such records); one with neither is skipped and
    counted. The title stays in :attr:`Document.title`, not in the text: the
    index embeds ``title + "\\n" + text`` itself, so putting it in both places
    would double it. Other fields (``url``) are kept as metadata.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: corpus file not found")
    default_lang = normalize_language(lang) if lang else None
    docs: list[Document] = []
    seen: dict[str, int] = {}
    skipped = 0
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:  # streamed: CIRAL's files are close to 1 GB each
        for lineno, raw in enumerate(fh, start=1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as e:
                msg = f"{where}: cannot decode byte {e.start} of the line as {encoding}; {ENCODING_HINT}"
                raise CorpusError(msg) from None
            if lineno == 1:
                line = line.removeprefix("\ufeff")
            if not line.strip():
                continue
            doc = _jsonl_document(line, where, default_lang)
            if doc is None:
                skipped += 1
                continue
            if doc.id in seen:
                raise CorpusError(f"{where}: duplicate document id {doc.id!r} (first on line {seen[doc.id]})")
            seen[doc.id] = lineno
            docs.append(doc)
    return docs, skipped


def _jsonl_document(line: str, where: str, default_lang: str | None) -> Document | None:
    """One JSONL record as a Document; None for a record with neither text nor title."""
    doc_id, record = json_record(line, where)
    if not doc_id:
        raise CorpusError(f"{where}: record has an empty id")
    text, title = record.pop("text"), record.pop("title", None)
    if not isinstance(text, str) or (title is not None and not isinstance(title, str)):
        raise CorpusError(f"{where} (id={doc_id!r}): 'text' and 'title' must be strings")
    title = (title.strip() or None) if title else None
    if not text.strip():
        if not title:
            return None
        text, title = title, None
    doc_lang = record.pop("lang", None) or record.pop("language", None) or default_lang
    try:
        return Document(id=doc_id, text=text, title=title, lang=doc_lang, metadata=record)
    except ValidationError as e:
        raise CorpusError(f"{where} (id={doc_id!r}): {describe_validation(e)}") from None


def warn_skipped(skipped: int, source: Path | str) -> None:
    """Say how many empty documents were left out, so a short corpus is never a silent surprise."""
    if skipped:
        warnings.warn(f"{source}: skipped {skipped} empty document(s) (no text)", stacklevel=3)


def assemble(
    name: str,
    queries: Iterable[Query],
    documents: list[Document],
    qrels: dict[str, dict[str, int]],
    *,
    query_lang: str,
    doc_langs: list[str],
    limit: int | None = None,
    skipped: int = 0,
    source: str = "",
) -> Collection:
    """Build a :class:`Collection` under the shared rules.

    Keeps queries (in file order) that have at least one relevant judgement, then
    the first ``limit`` of them; restricts qrels to the kept queries; rejects
    duplicate query ids; warns when relevant documents named in the qrels are not
    in the corpus, the usual sign of a corpus that does not match the qrels
    (wrong language, version or id format), which would otherwise show only as
    low scores.
    """
    where = f"{source}: " if source else ""
    kept: list[Query] = []
    seen: set[str] = set()
    dropped = 0
    for q in queries:
        if q.id in seen:
            raise CorpusError(f"{where}duplicate query id {q.id!r}")
        seen.add(q.id)
        if any(r > 0 for r in qrels.get(q.id, {}).values()):
            kept.append(q)
        else:
            dropped += 1
    if dropped:
        log.info("%s: %d queries without relevant judgements left out", name, dropped)
    if limit is not None:
        kept = kept[:limit]
    if not kept:
        raise CorpusError(f"{where}no query has a relevant judgement in the qrels (do the query ids match?)")
    kept_qrels = {q.id: dict(qrels[q.id]) for q in kept}
    ids = {d.id for d in documents}
    relevant = {d for judged in kept_qrels.values() for d, r in judged.items() if r > 0}
    missing = sorted(relevant - ids)
    if missing:
        warnings.warn(
            f"{name}: {len(missing)} of {len(relevant)} relevant documents in the qrels are not in the corpus "
            f"(e.g. {missing[0]!r}); check that the corpus matches the qrels",
            stacklevel=3,
        )
    return Collection(
        name=name,
        queries=kept,
        documents=documents,
        qrels=kept_qrels,
        query_lang=query_lang,
        doc_langs=doc_langs,
        skipped=skipped,
    )

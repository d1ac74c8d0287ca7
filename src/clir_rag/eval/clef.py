"""CLEF 2003 ad-hoc retrieval (ELRA distribution, not shipped), read from a local folder.

The nine language pairs used in the cross-lingual evaluation (query language -
document language) are :data:`CLEF_PAIRS`: en-fi, en-it, en-ru, en-de, de-fi,
de-it, de-ru, fi-it, fi-ru. Default layout under ``root``::

    root/topics/Top-<qlang>03.txt     topics in the query language, e.g. Top-en03.txt
    root/qrels/qrels_<DOCLANG>        TREC qrels of the document language, e.g. qrels_DE
    root/collections/<doclang>/       every file below, recursively (.gz read too), holding
                                      SGML records <DOC><DOCNO>id</DOCNO> ... </DOC>

The ELRA media are not laid out like this: either arrange (or link) them so,
or point ``topics=``, ``qrels=`` and ``collection=`` at the files directly.

Topic ids lose their ``C`` (``C141`` -> ``141``) to match the qrels. A
document's text is everything inside its ``<DOC>`` with the tags stripped,
except the ``DOCNO``/``DOCID`` values, whitespace collapsed. Documents with
no text are skipped, counted in :attr:`Collection.skipped` and warned about.
Only topics with at least one relevant document in the qrels are kept, the
usual CLEF practice (several languages have no relevant documents for some
of the 60 topics).

CLEF files are usually ISO-8859-1 (``encoding="latin-1"``); the Russian
collection may be KOI8-R or UTF-8. ``encoding`` applies to every file,
``topics_encoding`` overrides it for the topic file (de-ru: German topics in
Latin-1, Russian documents in UTF-8).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence
from pathlib import Path

from clir_rag.errors import CorpusError
from clir_rag.eval.collection import Collection, assemble, decode, read_bytes, warn_skipped
from clir_rag.eval.trec import read_qrels, read_trec_topics
from clir_rag.languages import normalize_language
from clir_rag.types import Document

log = logging.getLogger(__name__)

CLEF_PAIRS: dict[str, tuple[str, str]] = {
    "en-fi": ("en", "fi"),
    "en-it": ("en", "it"),
    "en-ru": ("en", "ru"),
    "en-de": ("en", "de"),
    "de-fi": ("de", "fi"),
    "de-it": ("de", "it"),
    "de-ru": ("de", "ru"),
    "fi-it": ("fi", "it"),
    "fi-ru": ("fi", "ru"),
}

_DOC_TAG = re.compile(r"<(/?)DOC(?:\s[^>]*)?>", re.IGNORECASE)
_DOC_BYTES = re.compile(rb"<DOC[\s>]", re.IGNORECASE)
_DOCNO = re.compile(r"<DOCNO(?:\s[^>]*)?>(.*?)</DOCNO\s*>", re.IGNORECASE | re.DOTALL)
_ID_ELEMENTS = re.compile(r"<(DOCNO|DOCID)(?:\s[^>]*)?>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_ANY_TAG = re.compile(r"<[^>]*>")


def clef_pair(pair: str) -> tuple[str, str]:
    """(query language, document language) of a pair name such as ``en-de`` (case and ``_`` tolerated)."""
    key = pair.strip().lower().replace("_", "-")
    if key not in CLEF_PAIRS:
        raise CorpusError(f"unknown CLEF 2003 pair {pair!r} (pairs: {', '.join(CLEF_PAIRS)})")
    return CLEF_PAIRS[key]


def clef_paths(pair: str, root: str | Path) -> tuple[Path, Path, Path]:
    """(topic file, qrels file, collection folder) of ``pair`` in the default layout under ``root``."""
    qlang, dlang = clef_pair(pair)
    root = Path(root)
    return (
        root / "topics" / f"Top-{qlang}03.txt",
        root / "qrels" / f"qrels_{dlang.upper()}",
        root / "collections" / dlang,
    )


def _document_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = (p for p in path.rglob("*") if p.is_file())
    return sorted(p for p in files if not any(part.startswith(".") for part in p.relative_to(path).parts))


def read_sgml_documents(path: str | Path, lang: str, *, encoding: str = "utf-8") -> tuple[list[Document], int]:
    """Documents from a TREC/CLEF SGML file or folder of files; returns (documents, empty ones skipped).

    Files that hold no ``<DOC>`` record at all (READMEs, DTDs) are passed over; a ``<DOC>``
    without ``</DOC>`` or ``<DOCNO>``, or a DOCNO seen twice, is an error naming file and line.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: CLEF document collection not found")
    code = normalize_language(lang)
    docs: list[Document] = []
    where: dict[str, str] = {}
    skipped = 0
    files = _document_files(path)
    passed_over = 0
    for file in files:
        data = read_bytes(file)
        if not _DOC_BYTES.search(data):
            passed_over += 1
            continue
        text = decode(data, file, encoding)
        line, pos = 1, 0
        start: int | None = None
        start_line = 0
        for m in _DOC_TAG.finditer(text):
            line += text.count("\n", pos, m.start())
            pos = m.start()
            if not m.group(1):
                if start is not None:
                    raise CorpusError(f"{file}:{start_line}: <DOC> not closed before the next <DOC> (line {line})")
                start, start_line = m.end(), line
                continue
            if start is None:
                raise CorpusError(f"{file}:{line}: </DOC> without an opening <DOC>")
            body = text[start : m.start()]
            start = None
            docno = _DOCNO.search(body)
            if docno is None or not docno.group(1).strip():
                raise CorpusError(f"{file}:{start_line}: document has no <DOCNO>")
            doc_id = " ".join(docno.group(1).split())
            if doc_id in where:
                raise CorpusError(f"{file}:{start_line}: duplicate DOCNO {doc_id!r} (first in {where[doc_id]})")
            where[doc_id] = f"{file}:{start_line}"
            content = " ".join(html.unescape(_ANY_TAG.sub(" ", _ID_ELEMENTS.sub(" ", body))).split())
            if not content:
                skipped += 1
                continue
            docs.append(Document(id=doc_id, text=content, lang=code))
        if start is not None:
            raise CorpusError(f"{file}:{start_line}: <DOC> without </DOC>")
    if passed_over:
        log.info("%s: %d file(s) without <DOC> records passed over", path, passed_over)
    if not docs and not skipped:
        raise CorpusError(f"{path}: no <DOC> records found in {len(files)} file(s)")
    return docs, skipped


def load_clef(
    pair: str,
    root: str | Path | None = None,
    *,
    topics: str | Path | None = None,
    qrels: str | Path | None = None,
    collection: str | Path | None = None,
    encoding: str = "utf-8",
    topics_encoding: str | None = None,
    fields: Sequence[str] = ("title", "desc"),
    limit: int | None = None,
) -> Collection:
    """Load one CLEF 2003 pair; explicit ``topics``/``qrels``/``collection`` paths override the layout under ``root``.

    ``fields`` are the topic fields joined into the query (title+desc is the usual CLEF setting).
    ``limit`` keeps the first n judged topics. The result is named ``clef03-<qlang>-<doclang>``.
    """
    qlang, dlang = clef_pair(pair)
    defaults = clef_paths(pair, root) if root is not None else None

    def pick(given: str | Path | None, i: int, option: str, what: str) -> Path:
        if given is not None:
            path = Path(given)
        elif defaults is None:
            raise CorpusError(f"CLEF {pair}: no {what}: give root= (laid out as this module describes) or {option}=")
        else:
            path = defaults[i]
        if not path.exists():
            raise CorpusError(
                f"{path}: CLEF 2003 {what} for {pair} not found; arrange the ELRA files as clir_rag.eval.clef "
                f"describes or pass {option}= with the path to yours"
            )
        return path

    topics_path = pick(topics, 0, "topics", "topic file")
    qrels_path = pick(qrels, 1, "qrels", "qrels file")
    docs_path = pick(collection, 2, "collection", "document collection")
    queries = read_trec_topics(topics_path, qlang, fields, encoding=topics_encoding or encoding)
    judgements = read_qrels(qrels_path, encoding=encoding)
    documents, skipped = read_sgml_documents(docs_path, dlang, encoding=encoding)
    warn_skipped(skipped, docs_path)
    return assemble(
        f"clef03-{qlang}-{dlang}",
        queries,
        documents,
        judgements,
        query_lang=qlang,
        doc_langs=[dlang],
        limit=limit,
        skipped=skipped,
        source=str(topics_path),
    )

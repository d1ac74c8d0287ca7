"""TREC run, qrels, query and topic files, read strictly: a malformed line is an error naming file and line.

Strict because a silently skipped qrels line or topic changes every score
computed from it, and nobody notices a missing judgement in a mean.
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError

from clir_rag.errors import CorpusError, InputError, describe_validation
from clir_rag.eval.collection import read_text
from clir_rag.languages import normalize_language
from clir_rag.types import Query, Ranking, Run

TOPIC_FIELDS = ("title", "desc", "narr")


def read_run(path: str | Path, queries: Mapping[str, Query] | None = None) -> Run:
    """The :class:`~clir_rag.types.Run` in a TREC run file (``qid Q0 docid rank score tag`` per line).

    Documents are ordered as trec_eval orders them: by score, descending, and by
    the file's ranks where scores tie. ``queries`` gives each id its query (else
    a query's text is its id); the run's name is the first line's tag.
    Raises :class:`~clir_rag.errors.CorpusError` naming file and line for a malformed line.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: run file not found")
    rows: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
    tag = ""
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 6:
            raise CorpusError(f"{path}:{lineno}: expected 6 columns 'qid Q0 docid rank score tag', got {len(parts)}")
        qid, _, docid, rank, score, line_tag = parts
        tag = tag or line_tag
        try:
            rows[qid].append((int(rank), docid, float(score)))
        except ValueError:
            raise CorpusError(f"{path}:{lineno}: rank must be an integer and score a number") from None
    lists = {qid: [(d, s) for _, d, s in sorted(r, key=lambda x: (-x[2], x[0]))] for qid, r in rows.items()}
    return Run.from_lists(lists, queries, name=tag or path.stem)


def write_run(run: Run | Iterable[Ranking], path: str | Path, tag: str | None = None) -> None:
    """Write ``run`` (or rankings, collapsed to documents) as a TREC run file tagged ``tag`` (default: its name).

    The scores written strictly decrease (see :class:`~clir_rag.types.Run`), so any
    trec_eval tool reads back the order written.
    """
    if not isinstance(run, Run):
        run = Run.from_rankings(run, name=tag or "clir-rag")
    tag = tag or run.name
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for qid, ranking in run.items():
            for rank, cand in enumerate(ranking.candidates, start=1):
                fh.write(f"{qid} Q0 {cand.doc_id} {rank} {cand.score:.6f} {tag}\n")


def read_queries(path: str | Path, lang: str | None = None) -> list[Query]:
    """Queries from a TSV (``qid<TAB>text``, as CIRAL and TREC tools write) or JSONL.

    JSONL records carry ``id`` (or ``_id``, as BEIR's ``queries.jsonl`` does), ``text`` and optionally ``lang``.
    """
    path = Path(path)
    queries = []
    for lineno, line in enumerate(read_text(path, what="query file").splitlines(), start=1):
        if not line.strip():
            continue
        if path.suffix in (".jsonl", ".json"):
            try:
                rec = json.loads(line)
                qid = rec["id"] if "id" in rec else rec["_id"]
                queries.append(Query(id=str(qid), text=rec["text"], lang=rec.get("lang", lang)))
            except KeyError as e:
                raise CorpusError(f"{path}:{lineno}: query record has no {e.args[0]!r} field") from None
            except (json.JSONDecodeError, TypeError, ValueError) as e:
                detail = describe_validation(e) if isinstance(e, ValidationError) else str(e)
                raise CorpusError(f"{path}:{lineno}: bad query record ({detail})") from None
        else:
            if "\t" not in line:
                raise CorpusError(f"{path}:{lineno}: expected 'qid<TAB>query text'")
            qid, text = line.split("\t", 1)
            try:
                queries.append(Query(id=qid.strip(), text=text.strip(), lang=lang))
            except ValidationError as e:
                raise CorpusError(f"{path}:{lineno}: query {qid.strip()!r}: {describe_validation(e)}") from None
    return queries


def read_qrels(path: str | Path, *, encoding: str = "utf-8") -> dict[str, dict[str, int]]:
    """``{qid: {docid: relevance}}`` from TREC qrels (``qid iter docid relevance``, whitespace or TAB separated).

    A line with other than 4 columns, a non-integer relevance or a judgement that
    contradicts an earlier one for the same pair is an error naming file and line.
    """
    path = Path(path)
    qrels: dict[str, dict[str, int]] = {}
    for lineno, line in enumerate(read_text(path, encoding=encoding, what="qrels file").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise CorpusError(
                f"{path}:{lineno}: expected 4 columns 'qid iter docid relevance', got {len(parts)}: {line.strip()!r}"
            )
        qid, _, docid, rel = parts
        try:
            value = int(rel)
        except ValueError:
            raise CorpusError(
                f"{path}:{lineno}: relevance {rel!r} for query {qid!r}, document {docid!r} is not an integer"
            ) from None
        judged = qrels.setdefault(qid, {})
        if judged.get(docid, value) != value:
            raise CorpusError(
                f"{path}:{lineno}: query {qid!r}, document {docid!r} judged {value} here but {judged[docid]} earlier"
            )
        judged[docid] = value
    if not qrels:
        raise CorpusError(f"{path}: qrels file holds no judgements")
    return qrels


_TAG = re.compile(r"<\s*(/?)\s*([A-Za-z][\w-]*)\s*>")
_FIELD = re.compile(r"^(?:[a-z]{2,3}[-_])?(num|title|desc|narr)$")  # EN-title, de-desc, title
_LABEL = re.compile(r"^(?:number|topic|title|description|narrative)\s*:\s*", re.IGNORECASE)  # old TREC topics


def _clean(raw: str) -> str:
    return _LABEL.sub("", " ".join(html.unescape(raw).split()))


def read_trec_topics(
    path: str | Path,
    lang: str | None,
    fields: Sequence[str] = ("title", "desc"),
    *,
    encoding: str = "utf-8",
) -> list[Query]:
    """Queries from an SGML-style TREC/CLEF topic file, the requested ``fields`` joined with a space.

    Understands ``<top> <num> C141 </num> <EN-title> .. <EN-desc> .. <EN-narr> .. </top>``: the
    field tags may carry any language prefix (``DE-title``) or none (``<title>``), and closing
    tags may be missing, as in CLEF and old TREC files: a field runs until the next tag. The
    query id is ``num`` without a leading non-digit prefix (``C141`` -> ``141``, as CLEF qrels
    write it). A topic without ``num`` or ``title`` is an error naming file, line and topic.
    """
    path = Path(path)
    fields = tuple(fields)
    unknown = [f for f in fields if f not in TOPIC_FIELDS]
    if not fields or unknown:
        raise InputError(f"topic fields must be a non-empty subset of {TOPIC_FIELDS}, got {fields!r}")
    qlang = normalize_language(lang) if lang else None
    text = read_text(path, encoding=encoding, what="topic file")
    tags = list(_TAG.finditer(text))
    topics: list[tuple[int, dict[str, list[str]]]] = []  # (line of <top>, field -> values)
    current: dict[str, list[str]] | None = None
    line, pos = 1, 0
    for i, m in enumerate(tags):
        closing, name = m.group(1) == "/", m.group(2).lower()
        if name == "top":
            current = None
            if not closing:
                line += text.count("\n", pos, m.start())
                pos = m.start()
                current = {}
                topics.append((line, current))
            continue
        field = _FIELD.match(name)
        if current is None or closing or field is None:
            continue
        end = tags[i + 1].start() if i + 1 < len(tags) else len(text)
        current.setdefault(field.group(1), []).append(_clean(text[m.end() : end]))
    if not topics:
        raise CorpusError(f"{path}: no <top> topics found (not a TREC/CLEF topic file?)")
    queries: list[Query] = []
    where_seen: dict[str, int] = {}
    for n, (lineno, found) in enumerate(topics, start=1):
        num = " ".join(x for x in found.get("num", []) if x)
        if not num:
            raise CorpusError(f"{path}:{lineno}: topic {n} (counting from 1) has no <num>")
        qid = re.sub(r"^\D+", "", num) or num
        if not any(found.get("title", [])):
            raise CorpusError(f"{path}:{lineno}: topic {num} has no title")
        if qid in where_seen:
            raise CorpusError(f"{path}:{lineno}: topic {num} repeats query id {qid!r} (line {where_seen[qid]})")
        where_seen[qid] = lineno
        query = " ".join(v for f in fields for v in found.get(f, []) if v)
        if not query:  # only possible when "title" is not among the requested fields
            raise CorpusError(f"{path}:{lineno}: topic {num} has none of the fields {fields}")
        queries.append(Query(id=qid, text=query, lang=qlang))
    return queries

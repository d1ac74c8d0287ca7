"""TREC run files and query files, read strictly: a malformed line is an error naming file and line."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from clir_rag.errors import CorpusError
from clir_rag.types import Query, Ranking


def read_run(path: str | Path) -> dict[str, list[tuple[str, float]]]:
    """``{qid: [(docid, score), ...]}`` in the file's rank order (``qid Q0 docid rank score tag``)."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: run file not found")
    rows: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 6:
            raise CorpusError(f"{path}:{lineno}: expected 6 columns 'qid Q0 docid rank score tag', got {len(parts)}")
        qid, _, docid, rank, score, _ = parts
        try:
            rows[qid].append((int(rank), docid, float(score)))
        except ValueError:
            raise CorpusError(f"{path}:{lineno}: rank must be an integer and score a number") from None
    # trec_eval orders by score (descending), ties by docid descending; keep the file's ranks when they agree.
    return {qid: [(d, s) for _, d, s in sorted(r, key=lambda x: (-x[2], x[0]))] for qid, r in rows.items()}


def write_run(rankings: Iterable[Ranking], path: str | Path, tag: str = "clir-rag") -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for ranking in rankings:
            seen: set[str] = set()
            rank = 0
            for cand in ranking.candidates:
                if cand.doc_id in seen:  # passages of one document: its best passage stands for it
                    continue
                seen.add(cand.doc_id)
                rank += 1
                fh.write(f"{ranking.query.id} Q0 {cand.doc_id} {rank} {cand.score:.6f} {tag}\n")


def read_queries(path: str | Path, lang: str | None = None) -> list[Query]:
    """Queries from a TSV (``qid<TAB>text``, as CIRAL and TREC tools write) or JSONL (``id``, ``text``, ``lang``)."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: query file not found")
    queries = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        if path.suffix in (".jsonl", ".json"):
            try:
                rec = json.loads(line)
                queries.append(Query(id=str(rec["id"]), text=rec["text"], lang=rec.get("lang", lang)))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                raise CorpusError(f"{path}:{lineno}: bad query record ({e})") from None
        else:
            if "\t" not in line:
                raise CorpusError(f"{path}:{lineno}: expected 'qid<TAB>query text'")
            qid, text = line.split("\t", 1)
            try:
                queries.append(Query(id=qid.strip(), text=text.strip(), lang=lang))
            except ValueError as e:
                raise CorpusError(f"{path}:{lineno}: query {qid.strip()!r}: {e}") from None
    return queries

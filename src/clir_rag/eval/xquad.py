"""XQuAD as a cross-lingual retrieval collection.

XQuAD's 240 paragraphs and 1,190 questions are parallel across 12 languages:
question ``X`` in any language has the same relevant paragraph in every
language. Queries in language A are run against the paragraphs of language B;
a paragraph's id is ``<B>:<article>-<paragraph>``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from clir_rag.errors import CorpusError
from clir_rag.languages import normalize_language
from clir_rag.types import Document, Query

XQUAD_LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")


def default_data_dir() -> Path:
    """``$CLIR_RAG_DATA`` or ``../shared/data`` beside the working directory or this checkout."""
    env = os.environ.get("CLIR_RAG_DATA")
    if env:
        return Path(env)
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        candidate = base.parent / "shared" / "data"
        if candidate.exists():
            return candidate
    return Path.cwd().parent / "shared" / "data"


@dataclass
class XQuADCLIR:
    """Queries in one language, paragraphs in one or more, and binary qrels."""

    queries: list[Query]
    documents: list[Document]
    qrels: dict[str, dict[str, int]]
    answers: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # qid -> lang -> answers


def _read(path: Path) -> list[dict]:
    if not path.exists():
        raise CorpusError(f"{path}: XQuAD file not found (set CLIR_RAG_DATA or pass the data folder)")
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def load_xquad(
    query_lang: str, doc_langs: str | list[str], data_dir: str | Path | None = None, limit: int | None = None
) -> XQuADCLIR:
    """Build the collection; ``limit`` keeps the first n questions (all paragraphs are kept)."""
    folder = Path(data_dir) if data_dir else default_data_dir() / "xquad"
    if (folder / "xquad").is_dir():
        folder = folder / "xquad"
    qlang = normalize_language(query_lang)
    dlangs = [normalize_language(x) for x in ([doc_langs] if isinstance(doc_langs, str) else doc_langs)]
    documents: list[Document] = []
    answers: dict[str, dict[str, list[str]]] = {}
    para_of: dict[str, str] = {}
    for lang in dlangs:
        for a, article in enumerate(_read(folder / f"xquad.{lang}.json")):
            for p, para in enumerate(article["paragraphs"]):
                documents.append(Document(id=f"{lang}:{a}-{p}", text=para["context"], lang=lang))
                for qa in para["qas"]:
                    para_of[qa["id"]] = f"{a}-{p}"
                    answers.setdefault(qa["id"], {})[lang] = [x["text"] for x in qa["answers"]]
    queries: list[Query] = []
    for article in _read(folder / f"xquad.{qlang}.json"):
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                queries.append(Query(id=qa["id"], text=qa["question"], lang=qlang))
                answers.setdefault(qa["id"], {})[qlang] = [x["text"] for x in qa["answers"]]
    if limit is not None:
        queries = queries[:limit]
    qrels = {q.id: {f"{lang}:{para_of[q.id]}": 1 for lang in dlangs} for q in queries}
    return XQuADCLIR(queries, documents, qrels, answers)

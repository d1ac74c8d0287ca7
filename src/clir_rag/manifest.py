"""The index manifest (``clir-rag.json``): what an index was built with, as a typed model with a format version.

The manifest fixes what every later run must agree with (encoder, dimension,
chunking, how titles join the text, BM25 parameters) and carries two marks
that an interrupted run leaves set, so that derived data (BM25, language
statistics) is rebuilt rather than trusted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clir_rag.chunk import DEFAULT_MAX_TOKENS, DEFAULT_OVERLAP, PassageUnit
from clir_rag.errors import IndexCompatibilityError, describe_validation

MANIFEST = "clir-rag.json"
FORMAT_VERSION = 1

TitleFormat = Literal["none", "newline", "dot", "title-prefix"]
TITLE_FORMATS: tuple[str, ...] = ("none", "newline", "dot", "title-prefix")
# Chosen by measurement (evals/README.md, "How titles join the text"); indexes record theirs.
DEFAULT_TITLE_FORMAT: TitleFormat = "dot"


class BM25Params(BaseModel):
    """BM25's ``k1`` and ``b``, fixed when the index is created."""

    k1: float
    b: float


class IndexManifest(BaseModel):
    """The contents of ``clir-rag.json``.

    Unknown keys are kept (and written back), so an index touched by an older
    clir-rag of the same format keeps what a newer one recorded.
    """

    model_config = ConfigDict(extra="allow")

    format: Literal[1] = 1  # FORMAT_VERSION
    index_id: str | None = Field(
        None, description="names this index's collection on a shared server; None: older index"
    )
    encoder: str = Field(description="the encoder spec (see clir_rag.embed.load_encoder)")
    model: str = ""
    dim: int
    max_tokens: int = Field(DEFAULT_MAX_TOKENS, description="passage length, in passage_unit")
    overlap: int = Field(DEFAULT_OVERLAP, description="shared by neighbouring passages, in passage_unit")
    passage_unit: PassageUnit = "tokens"
    # indexes from before titles had a choice joined them with a newline
    title_format: TitleFormat = "newline"
    chroma_url: str | None = None
    collection: str
    bm25: BM25Params
    bm25_stale: bool = Field(True, description="Chroma changed since BM25 was last built")
    stats_stale: bool = Field(False, description="the language statistics may not match Chroma")
    passages: int | None = Field(
        None, description="passages in the vector store (and BM25) when the last run finished; opening checks it"
    )


def read_manifest(file: Path) -> IndexManifest:
    """Read and check ``file``: :class:`IndexCompatibilityError` names it when unreadable or of another format."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise IndexCompatibilityError(f"{file}: unreadable manifest ({e})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT_VERSION:
        found = raw.get("format") if isinstance(raw, dict) else None
        raise IndexCompatibilityError(f"{file}: index format {found!r}, this clir-rag reads format {FORMAT_VERSION}")
    try:
        return IndexManifest.model_validate(raw)
    except ValidationError as e:
        raise IndexCompatibilityError(f"{file}: unreadable manifest ({describe_validation(e)})") from None


def write_manifest(manifest: IndexManifest, file: Path) -> None:
    """Write ``manifest`` to ``file`` atomically (a reader never sees half a file)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest.model_dump(mode="json"), indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(file)

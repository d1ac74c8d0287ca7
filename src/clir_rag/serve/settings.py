"""How ``clir-rag serve`` runs: :class:`ServeSettings`, every field with a safe default."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

# Host names a browser uses for this machine: with only these allowed, a page on another site that rebinds its
# own name to 127.0.0.1 (DNS rebinding) sends its name as Host and is refused.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
MAX_BODY_BYTES = 64 * 1024  # every request but POST /documents


class ServeSettings(BaseModel):
    """How ``clir-rag serve`` runs; every field has a safe default.

    The API key guards every endpoint but ``/health``, the page ``/`` and its files; ``allow_writes`` turns on
    ``POST /documents`` and ``DELETE /documents/{id}``, which need a key. ``allowed_hosts`` are the ``Host``
    header's accepted names (``*``: any).
    """

    index: Path
    llm_model: str | None = None  # a GGUF path, or a model name on ``base_url``; None: the embedded GGUF
    base_url: str | None = None  # an OpenAI-compatible server
    rerank: Literal["listwise", "pairwise-heap"] | None = None
    rerank_depth: int = Field(10, ge=2, le=100)
    translate_model: Path | None = None  # a CTranslate2 model directory; None: the LLM translates
    api_key: str | None = None
    cors_origins: list[str] = Field(default_factory=list)
    allowed_hosts: list[str] = Field(default_factory=lambda: list(LOOPBACK_HOSTS))
    workers: int = Field(1, ge=1)  # LLM jobs (answers, LLM translations) running at once
    queue_size: int = Field(4, ge=0)  # ... and waiting; beyond that, 503 with Retry-After
    retry_after_s: int = Field(10, ge=1)
    top_k: int = Field(5, ge=1, le=20)  # passages in an answer's context
    # one LLM request, retries included: bounded (a hung server is a 503, not 3 x 120 s), yet long enough for a
    # listwise rerank by the embedded model on 2 busy cores
    llm_deadline_s: float | None = Field(180.0, gt=0)
    llm_cooldown_s: float = Field(10.0, ge=0)  # a tripped breaker lets a request through again after this
    # below this lingua confidence, a query's detected language is a guess: the client's language (or the
    # index's) answers instead ("Eiffel tower" is Welsh at 0.13)
    min_lang_confidence: float = Field(0.5, ge=0, le=1)
    allow_writes: bool = False
    max_upload_bytes: int = Field(8 * 1024 * 1024, ge=1024)  # one POST /documents body
    max_upload_documents: int = Field(1000, ge=1)  # ... and the documents in it
    write_wait_s: float = Field(30.0, ge=0)  # how long a write waits for another process's writer lock

    @model_validator(mode="after")
    def _writes_need_a_key(self) -> ServeSettings:
        if self.allow_writes and not self.api_key:
            raise ValueError(
                "allow_writes: writes need an API key (CLIR_RAG_API_KEY or --api-key-file): anyone who reaches "
                "the port could change the index otherwise"
            )
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("api_key: the API key is empty")
        return self

"""The QA service: search, answer (also streamed as server-sent events) and translate over one index."""

from __future__ import annotations

import json
import secrets
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from clir_rag.errors import (
    ClirRagError,
    IndexCompatibilityError,
    InputError,
    LLMError,
    TranslationOutputError,
    missing_extra,
)
from clir_rag.languages import normalize_language
from clir_rag.types import Query, Ranking, ScoredCandidate

if TYPE_CHECKING:
    from clir_rag.rag.generate import Answer

MAX_QUERY_CHARS = 2000
MAX_TEXT_CHARS = 20_000  # one passage to translate
MAX_BODY_BYTES = 64 * 1024


class ServeSettings(BaseModel):
    """How ``clir-rag serve`` runs; every field has a safe default."""

    index: Path
    llm_model: str | None = None  # a GGUF path, or a model name on ``base_url``; None: the embedded GGUF
    base_url: str | None = None  # an OpenAI-compatible server
    rerank: Literal["listwise", "pairwise-heap"] | None = None
    rerank_depth: int = Field(10, ge=2, le=100)
    translate_model: Path | None = None  # a CTranslate2 model directory; None: the LLM translates
    api_key: str | None = None
    cors_origins: list[str] = Field(default_factory=list)
    workers: int = Field(1, ge=1)  # LLM jobs (answers, LLM translations) running at once
    queue_size: int = Field(4, ge=0)  # ... and waiting; beyond that, 503 with Retry-After
    retry_after_s: int = Field(10, ge=1)
    top_k: int = Field(5, ge=1, le=20)  # passages in an answer's context


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchRequest(_Request):
    """``POST /search``: a question in any language over the index's documents in any languages."""

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    k: int = Field(10, ge=1, le=100)
    mode: Literal["dense", "bm25", "hybrid"] = "dense"
    languages: list[str] | None = Field(None, max_length=64, description="only passages in these languages")
    debias: Literal["auto", "none", "center", "zscore"] = "auto"
    query_lang: str | None = Field(None, description="the question's language; detected when absent")

    @field_validator("query")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the query is blank")
        return v


class AnswerRequest(SearchRequest):
    """``POST /answer``: :class:`SearchRequest` whose top ``k`` (reranked, if the service reranks) are answered from."""

    k: int = Field(10, ge=1, le=50)


class AnswerResponse(BaseModel):
    """An answer in the question's language, its citations and the numbered passages it was given."""

    query: Query
    text: str
    lang: str
    citations: list[int]
    passages: list[ScoredCandidate]
    reranked: bool
    error: str | None = None
    wrong_language: bool = False
    language_fixed: bool = False


class TranslateRequest(_Request):
    """``POST /translate``: one passage into one language."""

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    source_lang: str
    target_lang: str


class TranslateResponse(BaseModel):
    """A translated passage and the translator that made it."""

    text: str
    source_lang: str
    target_lang: str
    translator: str


class QueueFullError(ClirRagError):
    """Every LLM slot is busy and the queue is full."""


class _Queue:
    """At most ``workers`` LLM jobs at once and ``size`` waiting: a request beyond that is refused at once."""

    def __init__(self, workers: int, size: int) -> None:
        self._running = threading.Semaphore(workers)
        self._lock = threading.Lock()
        self._admitted = 0
        self._limit = workers + size

    def admit(self) -> _Ticket:
        """A place in the queue, or :class:`QueueFullError`; enter the ticket to wait for a slot and run."""
        with self._lock:
            if self._admitted >= self._limit:
                raise QueueFullError(f"the service is busy ({self._limit} LLM requests running or waiting)")
            self._admitted += 1
        return _Ticket(self)

    def _leave(self) -> None:
        with self._lock:
            self._admitted -= 1


class _Ticket:
    """A request's place in the :class:`_Queue`; given back once, on exit or :meth:`cancel`."""

    def __init__(self, queue: _Queue) -> None:
        self._queue = queue
        self._held = True
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        self._queue._running.acquire()

    def __exit__(self, *_: object) -> None:
        self._queue._running.release()
        self.cancel()

    def cancel(self) -> None:
        """Give the place back (a stream that never started); later calls do nothing."""
        with self._lock:
            held, self._held = self._held, False
        if held:
            self._queue._leave()


class Service:
    """What the endpoints share: the index (read only), the LLM, reranker and translator (loaded on first use)."""

    def __init__(self, settings: ServeSettings) -> None:
        from clir_rag.index import MANIFEST, CrossLingualIndex

        if not (settings.index / MANIFEST).exists():
            raise IndexCompatibilityError(f"{settings.index} is not an index (no {MANIFEST}): run clir-rag index first")
        self.settings = settings
        self.index = CrossLingualIndex(settings.index)
        self.queue = _Queue(settings.workers, settings.queue_size)
        # the parts load on first use, once: two first requests at once must not load a GGUF twice
        self._load = threading.RLock()
        self._parts: dict[str, Any] = {}

    def _part(self, name: str, build: Callable[[], Any]) -> Any:
        part = self._parts.get(name)
        if part is None:
            with self._load:
                part = self._parts.get(name)
                if part is None:
                    part = self._parts[name] = build()
        return part

    @property
    def client(self) -> Any:
        """The LLM client (the embedded GGUF, a GGUF path, or an OpenAI-compatible server), built on first use."""
        from clir_rag.llm import LLMClient, load_llm

        return self._part("client", lambda: LLMClient(load_llm(self.settings.llm_model, self.settings.base_url)))

    @property
    def generator(self) -> Any:
        """The answer generator over :attr:`client`."""
        from clir_rag.rag.generate import AnswerGenerator

        return self._part("generator", lambda: AnswerGenerator(self.client, top_k=self.settings.top_k))

    @property
    def reranker(self) -> Any:
        """The reranker the settings name, over :attr:`client`."""
        from clir_rag.rerank.factory import make_reranker

        method, depth = self.settings.rerank or "listwise", self.settings.rerank_depth
        return self._part("reranker", lambda: make_reranker(method, self.client, depth=depth))

    @property
    def translator(self) -> Any:
        """CTranslate2 with ``translate_model``, else an LLM translator over :attr:`client`."""
        model = self.settings.translate_model
        if model is not None:
            from clir_rag.translate.ctranslate2_backend import CTranslate2Translator

            return self._part("translator", lambda: CTranslate2Translator(model))
        from clir_rag.translate.llm_translator import LLMTranslator

        # strict: a failed or garbled translation is an error to show, not the source handed back as translated
        return self._part("translator", lambda: LLMTranslator(self.client, sentence_level=False, strict=True))

    def search(self, req: SearchRequest) -> Ranking:
        """The top ``k`` passages for the request (languages normalised; unknown ones are an InputError)."""
        langs = [normalize_language(x) for x in req.languages] if req.languages else None
        query = Query(text=req.query, lang=normalize_language(req.query_lang) if req.query_lang else None)
        return self.index.search(query, req.k, mode=req.mode, langs=langs, debias=req.debias)

    def candidates(self, req: AnswerRequest) -> tuple[Ranking, bool]:
        """The passages an answer is made from: retrieved, then reranked when the service reranks."""
        ranking = self.search(req)
        if self.settings.rerank is None or len(ranking.candidates) < 2:
            return ranking, False
        return self.reranker.rerank(ranking).ranking, True

    def answer(self, ranking: Ranking, reranked: bool) -> AnswerResponse:
        """An answer from ``ranking``'s passages; raises :class:`LLMError` when the LLM failed (a 503)."""
        return self.response(self.generator.generate(ranking.query, ranking.candidates), reranked)

    def response(self, answer: Answer, reranked: bool) -> AnswerResponse:
        """``answer`` as the endpoints return it; raises :class:`LLMError` when the LLM failed (a 503)."""
        from clir_rag.rag.check import citations

        if answer.llm_failed:
            raise LLMError((answer.error or "the LLM failed").removeprefix("LLM call failed: "))
        return AnswerResponse(
            query=answer.query,
            text=answer.text,
            lang=answer.lang,
            citations=citations(answer.text, len(answer.passages)),
            passages=answer.passages,
            reranked=reranked,
            error=answer.error,
            wrong_language=answer.wrong_language,
            language_fixed=answer.language_fixed,
        )

    def translate(self, req: TranslateRequest) -> TranslateResponse:
        """One passage translated."""
        src, tgt = normalize_language(req.source_lang), normalize_language(req.target_lang)
        text = self.translator.translate([req.text], src, tgt)[0]
        return TranslateResponse(text=text, source_lang=src, target_lang=tgt, translator=self.translator.name)


def create_app(settings: ServeSettings) -> Any:
    """The FastAPI app for ``settings`` (see :mod:`clir_rag.serve`)."""
    try:
        from fastapi import Depends, FastAPI, Request, Security
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
        from fastapi.security import APIKeyHeader, HTTPBearer
        from fastapi.staticfiles import StaticFiles
    except ImportError as e:
        raise missing_extra("clir-rag serve", "serve", e) from e

    service = Service(settings)
    title, summary = "clir-rag", "Cross-lingual search and question answering over one index"
    try:  # the API docs' Swagger UI and ReDoc from the package: FastAPI's own load them from a CDN
        from fastapi_offline import FastAPIOffline

        app = FastAPIOffline(static_url="/static-docs", title=title, summary=summary)
    except ImportError:
        app = FastAPI(title=title, summary=summary)
    app.state.service = service

    def one_line(status: int, message: str, **headers: str) -> JSONResponse:
        return JSONResponse({"detail": " ".join(message.split())}, status_code=status, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ())[1:]) or "body"
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return one_line(422, "; ".join(parts))

    @app.exception_handler(QueueFullError)
    async def _busy(_: Request, exc: QueueFullError) -> JSONResponse:
        return one_line(503, str(exc), **{"Retry-After": str(settings.retry_after_s)})

    @app.exception_handler(TranslationOutputError)
    async def _garbled(_: Request, exc: TranslationOutputError) -> JSONResponse:
        return one_line(502, str(exc))

    @app.exception_handler(LLMError)
    async def _llm_down(_: Request, exc: LLMError) -> JSONResponse:
        return one_line(503, f"the LLM is unavailable: {exc}", **{"Retry-After": str(settings.retry_after_s)})

    @app.exception_handler(InputError)
    async def _bad(_: Request, exc: InputError) -> JSONResponse:
        return one_line(400, str(exc))

    @app.exception_handler(ClirRagError)
    async def _failed(_: Request, exc: ClirRagError) -> JSONResponse:
        return one_line(500, str(exc))

    @app.middleware("http")
    async def _bounded_body(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return one_line(413, f"request body over {MAX_BODY_BYTES} bytes")
        return await call_next(request)

    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"])

    # Declared as OpenAPI security schemes, so that /docs has an Authorize button; checked here, not by them
    # (auto_error off), so that a missing key is the same one-line 401 as a wrong one.
    key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the service's --api-key")
    bearer = HTTPBearer(auto_error=False, description="the service's --api-key as a Bearer token")

    # ``token`` is an HTTPAuthorizationCredentials or None; annotated Any because annotations are strings here
    # and the class is imported in this function, out of FastAPI's reach
    def authorized(x_api_key: str | None = Security(key_header), token: Any = Security(bearer)) -> None:
        if settings.api_key is None:
            return
        given = x_api_key or (token.credentials if token else "")
        if not secrets.compare_digest(given.encode(), settings.api_key.encode()):
            raise _Unauthorized("missing or wrong API key (X-API-Key or Authorization: Bearer)")

    @app.exception_handler(_Unauthorized)
    async def _denied(_: Request, exc: _Unauthorized) -> JSONResponse:
        return one_line(401, str(exc), **{"WWW-Authenticate": "Bearer"})

    guarded = [Depends(authorized)]

    static = Path(__file__).with_name("static")  # the page's files ship in the package, and only they are served
    app.mount("/static", StaticFiles(directory=static), name="static")

    # Routes name their response types in the decorator: under ``from __future__ import annotations`` the return
    # annotations are strings naming classes imported in this function, which FastAPI cannot resolve.
    @app.get("/", include_in_schema=False, response_class=FileResponse, response_model=None)
    def page() -> FileResponse:
        return FileResponse(static / "index.html")

    @app.get("/health", response_model=dict[str, Any])
    def health() -> dict[str, Any]:
        """Liveness and what is served (no API key needed)."""
        return {
            "status": "ok",
            "passages": len(service.index),
            "languages": service.index.bm25.languages,
            "encoder": service.index.manifest.encoder,
        }

    @app.post("/search", dependencies=guarded, response_model=Ranking)
    def search(req: SearchRequest) -> Ranking:
        """The top ``k`` passages for the question, in every language of the index (or ``languages``)."""
        return service.search(req)

    @app.post("/answer", dependencies=guarded, response_model=AnswerResponse)
    def answer(req: AnswerRequest) -> AnswerResponse:
        """Retrieve, rerank if configured, and answer in the question's language with numbered citations."""
        with service.queue.admit():
            ranking, reranked = service.candidates(req)
            return service.answer(ranking, reranked)

    sse: dict[int | str, dict[str, Any]] = {
        200: {"description": "events: sources, token..., answer (or error)", "content": {"text/event-stream": {}}}
    }

    @app.post(
        "/answer/stream", dependencies=guarded, response_class=StreamingResponse, response_model=None, responses=sse
    )
    def answer_stream(req: AnswerRequest) -> StreamingResponse:
        """:func:`answer` as server-sent events.

        ``sources`` (the passages and the answer's language) come first, then ``token`` events (the answer's
        text as the model writes it), then ``answer`` (the whole answer; its text replaces the tokens, since a
        wrong-language answer is replaced by its translation) or ``error``.
        """
        ticket = service.queue.admit()  # a full queue is a 503 before the stream starts

        def events() -> Iterator[str]:
            with ticket:
                try:
                    ranking, reranked = service.candidates(req)
                    sources = [c.model_dump(mode="json") for c in ranking.candidates]
                    lang = service.generator.target_language(ranking.query)
                    yield _event("sources", {"passages": sources, "reranked": reranked, "lang": lang})
                    stream = service.generator.stream(ranking.query, ranking.candidates)
                    for piece in stream:
                        yield _event("token", {"text": piece})
                    try:
                        done = service.response(stream.answer, reranked)
                        yield _event("answer", done.model_dump(mode="json"))
                    except LLMError as e:
                        yield _event("error", {"detail": f"the LLM is unavailable: {e}", "status": 503})
                except ClirRagError as e:
                    yield _event("error", {"detail": str(e), "status": 400 if isinstance(e, InputError) else 500})

        body = events()
        # a client gone before the stream started leaves a generator that never runs its ``with``
        weakref.finalize(body, ticket.cancel)
        return StreamingResponse(body, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post("/translate", dependencies=guarded, response_model=TranslateResponse)
    def translate(req: TranslateRequest) -> TranslateResponse:
        """One passage translated (CTranslate2 when the service has a model, else the LLM)."""
        if settings.translate_model is None:
            with service.queue.admit():
                return service.translate(req)
        return service.translate(req)

    return app


class _Unauthorized(ClirRagError):
    pass


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

"""The QA service: search, answer (also streamed as server-sent events), translate and, with ``allow_writes``,
ingest over one index. :func:`create_app` wires the parts: :mod:`~clir_rag.serve.guard` (host, key, body size,
before the app), :mod:`~clir_rag.serve.admission` (LLM work), :mod:`~clir_rag.serve.service` (the work),
:mod:`~clir_rag.serve.schemas` (the bodies)."""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations, which name classes imported
# inside create_app (the [serve] extra), as objects.

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from clir_rag.errors import (
    ClirRagError,
    CorpusError,
    IndexLockedError,
    IndexReadOnlyError,
    InputError,
    LLMError,
    StoreUnavailableError,
    TranslationOutputError,
    missing_extra,
)
from clir_rag.serve.admission import ClientGone, QueueFullError, Ticket
from clir_rag.serve.guard import AUTHORIZED, HostGuard, KeyGuard
from clir_rag.serve.schemas import (
    AnswerLangSource,
    AnswerRequest,
    AnswerResponse,
    DeletedResponse,
    DocumentsResponse,
    HealthResponse,
    SearchRequest,
    TranslateRequest,
    TranslateResponse,
)
from clir_rag.serve.service import Service
from clir_rag.serve.settings import MAX_BODY_BYTES, ServeSettings
from clir_rag.types import Document, Ranking

__all__ = ["ServeSettings", "Service", "create_app"]

# 499: nginx's "client closed request", for work dropped because its client left (nobody reads it)
CLIENT_GONE = 499

_DOCUMENTS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "array",
                "description": "documents as in a JSONL corpus: id (or docid, _id, doc_id), text, lang, title; "
                "other fields are kept as metadata",
                "items": {
                    "type": "object",
                    "required": ["id", "text"],
                    "properties": {
                        "id": {"type": "string"},
                        "text": {"type": "string"},
                        "lang": {"type": "string"},
                        "title": {"type": "string"},
                    },
                },
            }
        }
    },
}


def create_app(settings: ServeSettings) -> Any:
    """The FastAPI app for ``settings`` (see :mod:`clir_rag.serve`)."""
    try:
        from fastapi import Depends, FastAPI, Request, Response, Security
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
        from fastapi.security import APIKeyHeader, HTTPBasic, HTTPBearer
        from fastapi.staticfiles import StaticFiles
    except ImportError as e:
        raise missing_extra("clir-rag serve", "serve", e) from e

    service = Service(settings)
    title, summary = "clir-rag", "Cross-lingual search and question answering over one index"

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(service.close)  # served-query means written, the LLM client closed

    try:  # the API docs' Swagger UI and ReDoc from the package: FastAPI's own load them from a CDN
        from fastapi_offline import FastAPIOffline

        app = FastAPIOffline(static_url="/static-docs", title=title, summary=summary, lifespan=lifespan)
    except ImportError:
        app = FastAPI(title=title, summary=summary, lifespan=lifespan)
    app.state.service = service
    retry = {"Retry-After": str(settings.retry_after_s)}

    def one_line(status: int, message: str, **headers: str) -> JSONResponse:
        return JSONResponse({"detail": " ".join(message.split())}, status_code=status, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ())[1:]) or "body"
            parts.append(f"{where}: {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}")
        return one_line(422, "; ".join(parts))

    @app.exception_handler(QueueFullError)
    async def _busy(_: Request, exc: QueueFullError) -> JSONResponse:
        return one_line(503, str(exc), **retry)

    @app.exception_handler(ClientGone)
    async def _gone(_: Request, exc: ClientGone) -> Response:
        return Response(status_code=CLIENT_GONE)

    @app.exception_handler(TranslationOutputError)
    async def _garbled(_: Request, exc: TranslationOutputError) -> JSONResponse:
        return one_line(502, str(exc))

    @app.exception_handler(LLMError)
    async def _llm_down(_: Request, exc: LLMError) -> JSONResponse:
        return one_line(503, f"the LLM is unavailable: {exc}", **retry)

    @app.exception_handler(StoreUnavailableError)
    async def _store_down(_: Request, exc: StoreUnavailableError) -> JSONResponse:
        return one_line(503, f"the vector store is unavailable: {exc}", **retry)

    @app.exception_handler(IndexLockedError)
    async def _locked(_: Request, exc: IndexLockedError) -> JSONResponse:
        return one_line(503, str(exc), **retry)

    @app.exception_handler(IndexReadOnlyError)
    async def _read_only(_: Request, exc: IndexReadOnlyError) -> JSONResponse:
        return one_line(403, str(exc))

    @app.exception_handler(InputError)
    async def _bad(_: Request, exc: InputError) -> JSONResponse:
        return one_line(400, str(exc))

    @app.exception_handler(ClirRagError)
    async def _failed(_: Request, exc: ClirRagError) -> JSONResponse:
        return one_line(500, str(exc))

    def body_limit(method: str, path: str) -> int:
        if settings.allow_writes and method == "POST" and path == "/documents":
            return settings.max_upload_bytes
        return MAX_BODY_BYTES

    # Starlette runs the last added outermost: the Host first, then CORS (a preflight carries no key), then the key
    # and the body's size, all before the app reads anything.
    app.add_middleware(KeyGuard, key=settings.api_key, limit=body_limit)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type"],
        )
    app.add_middleware(HostGuard, allowed=settings.allowed_hosts)

    # Declared so that /docs has an Authorize button; KeyGuard checks the key, before the body is read.
    key_header = APIKeyHeader(
        name="X-API-Key", scheme_name="APIKeyHeader", auto_error=False, description="the service's API key"
    )
    bearer = HTTPBearer(
        scheme_name="HTTPBearer", auto_error=False, description="the service's API key as a Bearer token"
    )

    class Basic(HTTPBasic):
        # FastAPI's refuses a Basic header it cannot decode even without auto_error: KeyGuard has judged it
        async def __call__(self, request: Request) -> None:  # type: ignore[override]
            return None

    basic = Basic(scheme_name="HTTPBasic", description="the service's API key as the password (any user name)")

    def documented_key(_a: Any = Security(key_header), _b: Any = Security(bearer), _c: Any = Security(basic)) -> None:
        return None

    guarded = [Depends(documented_key)]

    static = Path(__file__).with_name("static")  # the page's files ship in the package, and only they are served
    app.mount("/static", StaticFiles(directory=static), name="static")

    async def blocking(fn: Any, *args: Any) -> Any:
        # in a worker thread, and not abandoned when the request is cancelled: a slot is given back only once
        # the work holding it has stopped
        return await anyio.to_thread.run_sync(fn, *args)

    # Routes name their response types in the decorator, which is where FastAPI looks first.
    @app.get("/", include_in_schema=False, response_class=FileResponse, response_model=None)
    def page() -> FileResponse:
        return FileResponse(static / "index.html")

    @app.get("/health", response_model=HealthResponse, responses={503: {"description": "the index or store is down"}})
    async def health(request: Request) -> JSONResponse:
        """Index, vector store and LLM, each ok / degraded / down; what is served; the LLM queue (no key needed;
        the reasons only with it, since they can name internal addresses)."""
        components = await blocking(service.health)
        passages, languages = await blocking(service.described)
        states = {c.status for c in components.values()}
        down = components["index"].status == "down" or components["store"].status == "down"
        status = "down" if down else "degraded" if states != {"ok"} else "ok"
        if not request.scope.get(AUTHORIZED, False):
            for part in components.values():
                part.reason = ""
        body = HealthResponse(
            status=status,
            components=components,
            passages=passages,
            languages=languages,
            encoder=service.index.manifest.encoder,
            queue=service.admission.snapshot(),
            writes=settings.allow_writes,
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=503 if down else 200)

    @app.post("/search", dependencies=guarded, response_model=Ranking)
    async def search(req: SearchRequest) -> Ranking:
        """The top ``k`` passages for the question, in every language of the index (or ``languages``)."""
        ranking: Ranking = await blocking(service.search, req)
        return ranking

    @app.post("/answer", dependencies=guarded, response_model=AnswerResponse)
    async def answer(req: AnswerRequest, request: Request) -> AnswerResponse:
        """Retrieve, rerank if configured, and answer with numbered citations, in the language
        ``answer_lang_source`` explains."""
        async with service.admission.admit().run(request.is_disconnected):
            lang = await blocking(service.answer_language, req)
            ranking, reranked = await blocking(service.candidates, req)
            done: AnswerResponse = await blocking(service.answer, ranking, reranked, lang)
            return done

    sse: dict[int | str, dict[str, Any]] = {
        200: {"description": "events: sources, token..., answer (or error)", "content": {"text/event-stream": {}}}
    }

    @app.post(
        "/answer/stream", dependencies=guarded, response_class=StreamingResponse, response_model=None, responses=sse
    )
    async def answer_stream(req: AnswerRequest, request: Request) -> StreamingResponse:
        """:func:`answer` as server-sent events.

        ``sources`` (the passages, the answer's language and why) come first, then ``token`` events (the answer's
        text as the model writes it), then ``answer`` (the whole answer; its text replaces the tokens, since a
        wrong-language answer is replaced by its translation) or ``error``. A client that leaves ends the
        generation and frees its place at once.
        """
        ticket = service.admission.admit()  # a full queue is a 503 before the stream starts
        try:
            lang = await blocking(service.answer_language, req)
        except BaseException:
            ticket.release()
            raise
        return _EventStream(_events(service, req, request, ticket, lang), ticket)

    @app.post("/translate", dependencies=guarded, response_model=TranslateResponse)
    async def translate(req: TranslateRequest, request: Request) -> TranslateResponse:
        """One passage translated (CTranslate2 when the service has a model, else the LLM)."""
        out: TranslateResponse
        if settings.translate_model is None:
            async with service.admission.admit().run(request.is_disconnected):
                out = await blocking(service.translate, req)
                return out
        out = await blocking(service.translate, req)
        return out

    def writes_on() -> None:
        if not settings.allow_writes:
            raise _WritesOff("writes are off: start the service with --allow-writes (and an API key)")

    @app.exception_handler(_WritesOff)
    async def _no_writes(_: Request, exc: _WritesOff) -> JSONResponse:
        return one_line(403, str(exc))

    @app.post(
        "/documents",
        dependencies=guarded,
        response_model=DocumentsResponse,
        openapi_extra={"requestBody": _DOCUMENTS_BODY},
    )
    async def add_documents(request: Request) -> DocumentsResponse:
        """Index documents (a JSON array of JSONL corpus records), all checked before any is written; by id:
        an unchanged document costs nothing, a changed one replaces its passages. Needs ``--allow-writes``."""
        writes_on()
        docs = await blocking(_documents, await request.body(), settings.max_upload_documents)
        added: DocumentsResponse = await blocking(service.add_documents, docs)
        return added

    @app.delete("/documents/{doc_id}", dependencies=guarded, response_model=DeletedResponse)
    async def delete_document(doc_id: str) -> DeletedResponse:
        """Remove a document (all its passages); 404 when the index has none by that id. Needs ``--allow-writes``."""
        writes_on()
        removed = await blocking(service.delete_document, doc_id)
        if not removed:
            raise _NotFound(f"no document {doc_id!r} in the index")
        return DeletedResponse(doc_id=doc_id, passages=removed)

    @app.exception_handler(_NotFound)
    async def _missing(_: Request, exc: _NotFound) -> JSONResponse:
        return one_line(404, str(exc))

    return app


class _WritesOff(ClirRagError):
    pass


class _NotFound(ClirRagError):
    pass


class _TooMany(InputError):
    pass


def _documents(body: bytes, limit: int) -> list[Document]:
    """``POST /documents``'s body as checked documents; the first bad record is a one-line error naming it."""
    from clir_rag.corpus.reader import record_document

    try:
        records = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorpusError(f"body: not JSON ({e})") from None
    if not isinstance(records, list):
        raise CorpusError(f"body: expected a JSON array of documents, got {type(records).__name__}")
    if not records:
        raise CorpusError("body: no documents")
    if len(records) > limit:
        raise CorpusError(f"body: {len(records)} documents, more than the {limit} one request may hold")
    docs: list[Document] = []
    seen: dict[str, int] = {}
    for i, record in enumerate(records):
        doc = record_document(record, f"documents[{i}]", detect=True)
        if doc.id in seen:
            raise CorpusError(f"documents[{i}]: duplicate document id {doc.id!r} (first as documents[{seen[doc.id]}])")
        seen[doc.id] = i
        docs.append(doc)
    return docs


async def _events(
    service: Service, req: AnswerRequest, request: Any, ticket: Ticket, lang: tuple[str, AnswerLangSource]
) -> AsyncIterator[str]:
    """The answer's server-sent events; the LLM's stream is closed and the place given back however it ends."""
    stream: Iterator[str] | None = None
    try:
        async with ticket.run(request.is_disconnected):
            ranking, reranked = await anyio.to_thread.run_sync(service.candidates, req)
            sources = [c.model_dump(mode="json") for c in ranking.candidates]
            yield _event(
                "sources", {"passages": sources, "reranked": reranked, "lang": lang[0], "lang_source": lang[1]}
            )
            answering = service.generator.stream(service.for_answer(ranking, lang[0]), ranking.candidates)
            stream = iter(answering)
            while (piece := await anyio.to_thread.run_sync(next, stream, None)) is not None:
                yield _event("token", {"text": piece})
            try:
                done = service.response(answering.answer, ranking, reranked, lang[1])
                yield _event("answer", done.model_dump(mode="json"))
            except LLMError as e:
                yield _event("error", {"detail": f"the LLM is unavailable: {e}", "status": 503})
    except ClientGone:
        return
    except StoreUnavailableError as e:
        yield _event("error", {"detail": f"the vector store is unavailable: {e}", "status": 503})
    except ClirRagError as e:
        yield _event("error", {"detail": str(e), "status": 400 if isinstance(e, InputError) else 500})
    finally:
        if stream is not None:
            # closing the generator closes the LLM's stream (an HTTP response, llama.cpp's lock); shielded, since
            # a client that left has cancelled this task; done before the slot is given back (``run``'s exit)
            close = getattr(stream, "close", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(close)


@functools.cache
def _event_stream_class() -> Any:
    from starlette.responses import StreamingResponse

    class EventStream(StreamingResponse):
        """A server-sent-event response that, however it ends (done, failed, the client gone), closes its
        events' generator and gives the request's place back then, not when the garbage collector runs."""

        def __init__(self, events: AsyncIterator[str], ticket: Ticket) -> None:
            super().__init__(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
            self._events = events
            self._ticket = ticket

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            try:
                await super().__call__(scope, receive, send)
            finally:
                with anyio.CancelScope(shield=True):
                    await self._events.aclose()  # type: ignore[attr-defined]
                self._ticket.release()  # a stream that never started never entered ``run``

    return EventStream


def _EventStream(events: AsyncIterator[str], ticket: Ticket) -> Any:
    return _event_stream_class()(events, ticket)


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

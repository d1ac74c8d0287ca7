"""The reading endpoints: the page, ``/health``, ``/search``, ``/answer`` (and ``/answer/stream``), ``/translate``.

Each hands its work to :class:`~clir_rag.serve.service.Service` in a worker thread; work that needs the LLM
first takes a place in the admission queue. Imported by :func:`~clir_rag.serve.app.create_app` only, once
FastAPI is known installed.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations as objects.

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from clir_rag.serve.events import EventStream, answer_events
from clir_rag.serve.guard import AUTHORIZED
from clir_rag.serve.schemas import (
    AnswerRequest,
    AnswerResponse,
    HealthResponse,
    SearchRequest,
    TranslateRequest,
    TranslateResponse,
)
from clir_rag.serve.service import Service
from clir_rag.types import Ranking

T = TypeVar("T")

# the page's files ship in the package, and only they are served
STATIC = Path(__file__).with_name("static")

_SSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "events: sources, token..., answer (or error)", "content": {"text/event-stream": {}}}
}


async def blocking(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker thread, not abandoned when the request is cancelled: a queue place is given
    back only once the work holding it has stopped."""
    return await anyio.to_thread.run_sync(fn, *args)


def add_routes(app: FastAPI, service: Service, guarded: list[Any]) -> None:
    """Mount the page's files and add the reading endpoints to ``app``; ``guarded`` are the dependencies that
    document the API key (the middleware checks it)."""
    settings = service.settings
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # Routes name their response types in the decorator, which is where FastAPI looks first.
    @app.get("/", include_in_schema=False, response_class=FileResponse, response_model=None)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

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
        return await blocking(service.search, req)

    @app.post("/answer", dependencies=guarded, response_model=AnswerResponse)
    async def answer(req: AnswerRequest, request: Request) -> AnswerResponse:
        """Retrieve, rerank if configured, and answer with numbered citations, in the language
        ``answer_lang_source`` explains."""
        async with service.admission.admit().run(request.is_disconnected):
            lang = await blocking(service.answer_language, req)
            ranking, reranked = await blocking(service.candidates, req)
            return await blocking(service.answer, ranking, reranked, lang)

    @app.post(
        "/answer/stream", dependencies=guarded, response_class=StreamingResponse, response_model=None, responses=_SSE
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
        return EventStream(answer_events(service, req, request, ticket, lang), ticket)

    @app.post("/translate", dependencies=guarded, response_model=TranslateResponse)
    async def translate(req: TranslateRequest, request: Request) -> TranslateResponse:
        """One passage translated (CTranslate2 when the service has a model, else the LLM)."""
        if settings.translate_model is None:
            async with service.admission.admit().run(request.is_disconnected):
                return await blocking(service.translate, req)
        return await blocking(service.translate, req)

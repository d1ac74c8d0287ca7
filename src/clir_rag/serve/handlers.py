"""How failures become HTTP responses: each error class its status, with a one-line JSON ``detail``.

A 503 carries Retry-After: a full queue, an LLM or store that is down, or another process's writer lock may
all be gone by then. Imported by :func:`~clir_rag.serve.app.create_app` only, once FastAPI is known installed.
"""

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from clir_rag.errors import (
    ClirRagError,
    IndexLockedError,
    IndexReadOnlyError,
    InputError,
    LLMError,
    StoreUnavailableError,
    TranslationOutputError,
)
from clir_rag.serve.admission import ClientGone, QueueFullError

# 499: nginx's "client closed request", for work dropped because its client left (nobody reads it)
CLIENT_GONE = 499


class WritesOffError(ClirRagError):
    """A write to a service started without ``allow_writes`` (a 403)."""


class DocumentNotFoundError(ClirRagError):
    """``DELETE /documents/{id}`` for an id the index does not hold (a 404)."""


def one_line(status: int, message: str, **headers: str) -> JSONResponse:
    """``{"detail": message}`` with its whitespace collapsed to single spaces, as ``status`` with ``headers``."""
    return JSONResponse({"detail": " ".join(message.split())}, status_code=status, headers=headers or None)


def add_handlers(app: FastAPI, retry_after_s: int) -> None:
    """Give ``app`` a handler per error class; ``retry_after_s`` is the 503s' Retry-After."""
    retry = {"Retry-After": str(retry_after_s)}

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

    @app.exception_handler(WritesOffError)
    async def _no_writes(_: Request, exc: WritesOffError) -> JSONResponse:
        return one_line(403, str(exc))

    @app.exception_handler(DocumentNotFoundError)
    async def _missing(_: Request, exc: DocumentNotFoundError) -> JSONResponse:
        return one_line(404, str(exc))

    @app.exception_handler(ClirRagError)
    async def _failed(_: Request, exc: ClirRagError) -> JSONResponse:
        return one_line(500, str(exc))

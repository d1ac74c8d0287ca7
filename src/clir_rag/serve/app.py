"""The app factory: :func:`create_app` builds the QA service's FastAPI app from its settings.

It wires the parts: :mod:`~clir_rag.serve.guard` (host, key, body size, before the app),
:mod:`~clir_rag.serve.handlers` (errors as responses), :mod:`~clir_rag.serve.routes` and
:mod:`~clir_rag.serve.documents` (the endpoints), which hand their work to :mod:`~clir_rag.serve.service`.
FastAPI (the ``[serve]`` extra) is imported only here, when an app is built.
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations of the functions given to it as objects.

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from clir_rag.errors import missing_extra
from clir_rag.serve.guard import HostGuard, KeyGuard
from clir_rag.serve.service import Service
from clir_rag.serve.settings import MAX_BODY_BYTES, ServeSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["ServeSettings", "Service", "create_app"]


def create_app(settings: ServeSettings) -> "FastAPI":
    """The FastAPI app for ``settings`` (see :mod:`clir_rag.serve`)."""
    try:
        from fastapi import Depends, FastAPI, Request, Security
        from fastapi.security import APIKeyHeader, HTTPBasic, HTTPBearer
    except ImportError as e:
        raise missing_extra("clir-rag serve", "serve", e) from e
    from clir_rag.serve.documents import add_document_routes
    from clir_rag.serve.handlers import add_handlers
    from clir_rag.serve.routes import add_routes

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
    add_handlers(app, settings.retry_after_s)

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
    add_routes(app, service, guarded)
    add_document_routes(app, service, guarded)
    return app

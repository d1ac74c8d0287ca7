"""What every request passes before the app sees it (pure ASGI middleware: nothing read that need not be).

:class:`HostGuard` (outermost) refuses a ``Host`` header that is not allowed: with loopback names only, a web page
whose own name was rebound to 127.0.0.1 (DNS rebinding) cannot reach a service bound there. :class:`KeyGuard`
(inside CORS, so that preflights pass) checks the API key from the headers alone, then reads the body itself,
counting bytes as they come (chunked uploads included), and answers 413 as soon as the limit is passed: a 60 MB
upload without a key is refused before a byte of it is read, and with one it never gets past the limit into
memory or a JSON parser. The app then gets the body from this buffer.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]

AUTHORIZED = "clir_rag.authorized"  # scope key: the request carried the right key (or none is needed)

# Reached without the key: liveness, the page and the files it and the API docs load (no data in any of them).
OPEN_PATHS = frozenset({"/health", "/", "/favicon.ico"})
OPEN_PREFIXES = ("/static/", "/static-docs/")
# The API docs: a browser opening them cannot send a header, so a 401 there asks for the key as a password.
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


async def reply(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """A one-line JSON error ``{"detail": ...}``, sent straight to the client."""
    body = json.dumps({"detail": " ".join(detail.split())}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def host_name(host: str) -> str:
    """The name in a ``Host`` header: no port, no IPv6 brackets, lower case, no trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8000
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:  # name:port (a bare IPv6 address has several colons)
        host = host.partition(":")[0]
    return host.rstrip(".")


class HostGuard:
    """Refuse (400, naming it) a request whose ``Host`` is not in ``allowed`` (``*`` allows every host)."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.any = "*" in allowed
        self.allowed = {host_name(h) for h in allowed if h != "*"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point: refuse, or pass on."""
        if scope["type"] == "http" and not self.any:
            given = _header(scope, b"host")
            if given is None:
                await reply(send, 400, "the request has no Host header")
                return
            if host_name(given) not in self.allowed:
                await reply(send, 400, f"host {host_name(given)!r} is not served here (allowed: --allowed-host)")
                return
        await self.app(scope, receive, send)


def given_key(scope: Scope) -> str | None:
    """The key a request carries: ``X-API-Key``, ``Authorization: Bearer KEY``, or Basic with KEY as password."""
    key = _header(scope, b"x-api-key")
    if key:
        return key
    auth = _header(scope, b"authorization") or ""
    kind, _, value = auth.partition(" ")
    if kind.lower() == "bearer":
        return value.strip()
    if kind.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


class KeyGuard:
    """The API key on every path but the open ones, checked from the headers; then the body, read with a limit.

    ``limit(method, path)`` is the largest body accepted. Without ``key`` every request is authorized.
    """

    def __init__(self, app: ASGIApp, key: str | None, limit: Callable[[str, str], int]) -> None:
        self.app = app
        self.key = key.encode() if key else None
        self.limit = limit

    def _open(self, path: str) -> bool:
        return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point: refuse (401, 413), or pass on with the body read."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        key = given_key(scope)
        authorized = self.key is None or (key is not None and secrets.compare_digest(key.encode(), self.key))
        scope[AUTHORIZED] = authorized
        if not authorized and not self._open(path):
            # a browser asks for a password on Basic (the docs); an API client reads Bearer
            challenge = 'Basic realm="clir-rag", charset="UTF-8"' if path in DOCS_PATHS else "Bearer"
            await reply(
                send,
                401,
                "missing or wrong API key (X-API-Key, Authorization: Bearer, or as the password)",
                {"WWW-Authenticate": challenge},
            )
            return
        limit = self.limit(scope.get("method", "GET"), path)
        length = _header(scope, b"content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > limit):
            await reply(send, 413, f"request body over {limit} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        while True:  # the whole body, counted as it comes: Content-Length can be absent (chunked) or lie
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await reply(send, 413, f"request body over {limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body: bytes | None = b"".join(chunks)

        async def replay() -> Message:
            nonlocal body
            if body is not None:
                message, body = {"type": "http.request", "body": body, "more_body": False}, None
                return message
            return await receive()  # later: the disconnect, which streams watch for

        await self.app(scope, replay, send)

"""Running the app: the port bound before anything is announced, the key read from a file, a shutdown that ends.

:func:`bind` takes the port first, so that a port in use is one clear error and "Serving ... on" is printed only
once the service can be reached; :func:`run` hands the bound socket to uvicorn and bounds SIGTERM's drain.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from clir_rag.errors import ClirRagError, InputError

# After SIGTERM uvicorn waits ``shutdown_timeout`` for requests to finish, then cancels them; a request whose
# worker thread is stuck in a call that cannot be cancelled (a hung LLM server, an in-process model) would still
# keep the process alive, so it ends this long after that.
_EXIT_MARGIN_S = 5.0


class PortInUseError(ClirRagError):
    """The address to serve on is taken (or cannot be bound)."""


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the service on this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_key_file(path: Path) -> str:
    """The API key in ``path`` (its first line, without surrounding whitespace)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"--api-key-file {path}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
    lines = text.strip().splitlines()
    key = lines[0].strip() if lines else ""
    if not key:
        raise InputError(f"--api-key-file {path}: the file is empty")
    return key


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; :class:`PortInUseError` (one line) when it cannot be had."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise PortInUseError(f"cannot bind {host}: {e.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # a port in TIME_WAIT from a previous run can be reused; one another process listens on cannot
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"port {port} on {host} is in use (another server?): stop it or choose another --port"
            ) from None
        raise PortInUseError(f"cannot bind {host}:{port}: {e.strerror or e}") from None
    return sock


def run(app: Any, sock: socket.socket, *, shutdown_timeout: int) -> None:
    """Serve ``app`` on ``sock`` until SIGTERM or Ctrl-C; then drain for at most ``shutdown_timeout`` seconds."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            _exit_later(shutdown_timeout + _EXIT_MARGIN_S)
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=shutdown_timeout)
    Server(config).run(sockets=[sock])


_exit_armed = threading.Event()


def _exit_later(seconds: float) -> None:
    """End the process ``seconds`` from now if it has not ended by then (armed once)."""
    if _exit_armed.is_set():
        return
    _exit_armed.set()

    def stop() -> None:
        sys.stderr.write(f"clir-rag serve: work still running {seconds:.0f}s after the signal; exiting\n")
        sys.stderr.flush()
        os._exit(0)

    timer = threading.Timer(seconds, stop)
    timer.daemon = True
    timer.start()

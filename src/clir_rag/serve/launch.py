"""From ``clir-rag serve``'s options to a ready service: the settings (key, Host names served), the port, the app.

:func:`serve_settings` turns the options into :class:`~clir_rag.serve.settings.ServeSettings`;
:func:`open_app` binds the port first (a port in use is one line, before the index is opened) and
then builds the app. Between the two the command says what a bind beyond this machine leaves open.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clir_rag.errors import InputError, describe_validation
from clir_rag.serve.app import create_app
from clir_rag.serve.run import bind, read_key_file
from clir_rag.serve.settings import LOOPBACK_HOSTS, ServeSettings

# addresses that bind every interface: they are no name a client sends as Host
_ANY_ADDRESS = ("0.0.0.0", "::", "")


def serve_settings(
    index: str | Path,
    *,
    host: str = "127.0.0.1",
    llm_model: str | None = None,
    base_url: str | None = None,
    rerank: str | None = None,
    translate_model: str | Path | None = None,
    api_key: str | None = None,
    api_key_file: str | Path | None = None,
    allowed_hosts: Sequence[str] | None = None,
    cors_origins: Sequence[str] = (),
    allow_writes: bool = False,
    queue_size: int = 4,
    llm_deadline_s: float | None = 180.0,
    llm_cooldown_s: float = 10.0,
) -> ServeSettings:
    """The settings for serving ``index`` on ``host``, from the command's options.

    The API key comes from ``api_key`` or the first line of ``api_key_file``, not both;
    ``allow_writes`` needs one. ``allowed_hosts`` default to the loopback names plus ``host``
    when it is a name clients use (not an address that binds every interface). Raises
    :class:`~clir_rag.errors.InputError` for options that do not go together or do not validate.
    """
    if api_key_file is not None:
        if api_key is not None:
            raise InputError("give the API key once: --api-key-file, or CLIR_RAG_API_KEY / --api-key")
        api_key = read_key_file(Path(api_key_file))
    if allow_writes and not api_key:
        raise InputError("--allow-writes needs an API key (CLIR_RAG_API_KEY or --api-key-file)")
    hosts = list(allowed_hosts or LOOPBACK_HOSTS)
    if not allowed_hosts and host not in _ANY_ADDRESS:
        hosts.append(host)  # the address bound is a name clients use
    try:
        return ServeSettings(
            index=Path(index),
            llm_model=llm_model,
            base_url=base_url,
            rerank=rerank,
            translate_model=Path(translate_model) if translate_model is not None else None,
            api_key=api_key,
            cors_origins=list(cors_origins),
            allowed_hosts=hosts,
            queue_size=queue_size,
            llm_deadline_s=llm_deadline_s,
            llm_cooldown_s=llm_cooldown_s,
            allow_writes=allow_writes,
        )
    except ValidationError as e:
        raise InputError(describe_validation(e)) from e


def open_app(settings: ServeSettings, host: str, port: int) -> tuple[Any, socket.socket]:
    """Bind ``host:port``, then build the app for ``settings``; returns both, for :func:`clir_rag.serve.run.run`.

    The port is taken first, so a port in use is a :class:`~clir_rag.serve.run.PortInUseError`
    before the index is opened; the socket is closed again if the app cannot be built.
    """
    sock = bind(host, port)
    try:
        return create_app(settings), sock
    except ValidationError as e:
        sock.close()
        raise InputError(describe_validation(e)) from e
    except BaseException:
        sock.close()
        raise

"""``clir-rag serve``: search, cited answers and translation over an index, with a web page (extra [serve])."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clir_rag.cli.common import IndexDir, console, exit_on_error, require_index, warn


def serve(
    index_dir: IndexDir,
    llm: Annotated[
        str | None, typer.Option("--llm", help="GGUF path (else the embedded model), or with --base-url a model name.")
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="An OpenAI-compatible server for answers.")] = None,
    model: Annotated[str | None, typer.Option(help="The model name on --base-url (same as --llm).")] = None,
    rerank: Annotated[str | None, typer.Option(help="Rerank before answering: listwise | pairwise-heap.")] = None,
    translate_model: Annotated[
        Path | None, typer.Option(help="CTranslate2 model for /translate (else the LLM translates).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="CLIR_RAG_API_KEY",
            help="Required on every endpoint but /health and the page (prefer the env var or --api-key-file: "
            "an argument shows in ps).",
        ),
    ] = None,
    api_key_file: Annotated[Path | None, typer.Option(help="Read the API key from this file (its first line).")] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            help="A Host header name to serve (repeatable; '*': any). Default: localhost, 127.0.0.1, ::1 and the "
            "--host address.",
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="Allow browser calls from this origin (repeatable; default none).")
    ] = None,
    allow_writes: Annotated[
        bool,
        typer.Option("--allow-writes", help="Turn on POST /documents and DELETE /documents/{id} (needs an API key)."),
    ] = False,
    queue_size: Annotated[int, typer.Option(min=0, help="LLM requests that may wait; beyond, 503.")] = 4,
    llm_deadline: Annotated[
        float, typer.Option(min=0.0, help="Seconds one LLM request may take, retries included (0: no limit).")
    ] = 180.0,
    llm_cooldown: Annotated[
        float, typer.Option(min=0.0, help="Seconds an LLM found down is left alone before it is tried again.")
    ] = 10.0,
    shutdown_timeout: Annotated[
        int, typer.Option(min=0, help="On SIGTERM, seconds to let requests finish before they are cut.")
    ] = 10,
) -> None:
    """Serve search, cited answers and translation over an index, with a web page (extra [serve])."""
    require_index(index_dir)
    with exit_on_error(extra=("clir-rag serve", "serve")):
        from clir_rag.serve.launch import open_app, serve_settings
        from clir_rag.serve.run import is_loopback, run

        settings = serve_settings(
            index_dir,
            host=host,
            llm_model=model or llm,
            base_url=base_url,
            rerank=rerank,
            translate_model=translate_model,
            api_key=api_key,
            api_key_file=api_key_file,
            allowed_hosts=allowed_host,
            cors_origins=cors_origin or [],
            allow_writes=allow_writes,
            queue_size=queue_size,
            llm_deadline_s=llm_deadline or None,
            llm_cooldown_s=llm_cooldown,
        )
        if not is_loopback(host):
            _warn_exposed(host, bool(settings.api_key), None if allowed_host else settings.allowed_hosts)
        application, sock = open_app(settings, host, port)
    shown = f"[{host}]" if ":" in host else host
    console.print(f"Serving {index_dir} on http://{shown}:{port} (API docs: /docs)")
    run(application, sock, shutdown_timeout=shutdown_timeout)


def _warn_exposed(host: str, keyed: bool, default_hosts: list[str] | None) -> None:
    """Say on stderr what a bind beyond this machine leaves open, or unreachable."""
    if not keyed:
        warn(
            f"serving on {host} with no API key: anyone who reaches the port "
            "can search and use the LLM; set CLIR_RAG_API_KEY or --api-key-file"
        )
    if default_hosts is not None:
        warn(
            f"only Host headers {', '.join(default_hosts)} are served: add the name "
            "clients use with --allowed-host (or '*')",
            label="note",
        )

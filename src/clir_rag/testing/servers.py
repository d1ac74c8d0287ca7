"""Starting real servers on 127.0.0.1 for tests: a free port, waiting until they answer, stopping them.

The servers are the real ones (llama-cpp-python's OpenAI-compatible server, ``chroma run``,
``clir-rag serve``), each in its own process; a test that cannot start one fails or is skipped.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(proc: subprocess.Popen, url: str, timeout: float = 120.0) -> None:
    """Poll ``url`` until it answers; fail the test if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"server did not come up at {url}")
            time.sleep(0.3)


@contextmanager
def serving(command: list[str], health_url: str, timeout: float = 120.0) -> Iterator[subprocess.Popen]:
    """Start ``command``, wait until ``health_url`` answers, and stop it afterwards."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(proc, health_url, timeout=timeout)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def serving_llama_cpp(
    model: str | Path | None = None,
    *,
    alias: str = "qwen",
    n_ctx: int = 4096,
    n_threads: int = 2,
    timeout: float = 120.0,
) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1 serving ``model`` as model ``alias``.

    Yields its base URL (``http://127.0.0.1:PORT/v1``) and stops it afterwards. ``model`` defaults to
    the embedded GGUF. Needs ``llama-cpp-python[server]`` (the dev extra).
    """
    if model is None:
        from clir_rag.llm.models import default_gguf_path

        model = default_gguf_path()
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", alias]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(n_threads)]
    url = f"http://127.0.0.1:{port}/v1"
    with serving(command, f"{url}/models", timeout=timeout):
        yield url


def chroma_run_command(data: Path, port: int) -> list[str]:
    """``chroma run`` keeping its data in ``data`` on 127.0.0.1:``port``.

    Raises ``FileNotFoundError`` without the command, for callers outside pytest (benchmarks).
    """
    # next to the interpreter too: a venv's scripts are not on PATH unless it is activated
    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    if not Path(exe).exists():
        raise FileNotFoundError("chromadb's `chroma` server command is not installed (pip install chromadb)")
    return [exe, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)]


def chroma_server_command(data: Path, port: int) -> list[str]:
    """:func:`chroma_run_command`, skipping the test without the command."""
    try:
        return chroma_run_command(data, port)
    except FileNotFoundError as missing:
        pytest.skip(str(missing))


@contextmanager
def serving_chroma(
    data: Path, port: int | None = None, *, timeout: float = 60.0, skip_if_missing: bool = True
) -> Iterator[tuple[str, subprocess.Popen]]:
    """A Chroma server on 127.0.0.1 keeping its data in ``data``: yields its URL and its process, stops it afterwards.

    ``port`` defaults to a free one; pass it to restart a server at the same URL. Without the ``chroma``
    command the test is skipped, or with ``skip_if_missing=False`` ``FileNotFoundError`` is raised.
    """
    port = free_port() if port is None else port
    command = (chroma_server_command if skip_if_missing else chroma_run_command)(data, port)
    url = f"http://127.0.0.1:{port}"
    with serving(command, f"{url}/api/v2/heartbeat", timeout=timeout) as proc:
        yield url, proc

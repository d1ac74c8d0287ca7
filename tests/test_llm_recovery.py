"""LLMClient's recovery (issue 25): a circuit breaker that half-opens, a deadline per call, no retry queued
behind an in-process call that cannot be cancelled, close().

The outage tests run a real llama.cpp OpenAI-compatible server of this module's own (stopped, restarted and
SIGSTOPped on one port); fakes only inject what a real backend cannot do on demand (a call that hangs in-process).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clir_rag.errors import LLMError, LLMTimeoutError, LLMTransientError, LLMUnavailableError
from clir_rag.llm import Completion, LLMClient
from clir_rag.testing.llm_faults import DOWN, TRANSIENT, FaultyLLM
from clir_rag.testing.servers import free_port, wait_until_up

MSG = [{"role": "user", "content": "Reply with the single word: yes"}]
WAIT_S = 60.0  # the most any bounded wait here lasts: a guard against a hung test, never a speed check


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting after {WAIT_S:.0f}s: {what}")
        time.sleep(0.02)


class LlamaServer:
    """The llama.cpp OpenAI-compatible server on a fixed 127.0.0.1 port, stopped and started again by the tests."""

    def __init__(self) -> None:
        from clir_rag.llm.models import default_gguf_path

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.command = [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf_path())]
        self.command += ["--model_alias", "qwen", "--host", "127.0.0.1", "--port", str(self.port)]
        self.command += ["--n_ctx", "1024", "--n_threads", "2"]
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_up(self.proc, f"{self.url}/models", timeout=120)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture(scope="module")
def llama_server() -> Iterator[LlamaServer]:
    pytest.importorskip("openai")
    pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")
    server = LlamaServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _remote(server: LlamaServer, **settings) -> LLMClient:
    from clir_rag.llm.openai_backend import OpenAICompatibleLLM

    return LLMClient(OpenAICompatibleLLM("qwen", base_url=server.url), **settings)


def test_a_restarted_server_is_used_again_after_the_cool_down(llama_server: LlamaServer) -> None:
    # a long cool-down while the test looks at the open circuit (a slow machine cannot half-open it
    # under the test's feet); shortened where the test wants the trial
    client = _remote(llama_server, breaker_cooldown=60.0, backoff=0.0)
    assert client.generate(MSG, max_tokens=2).text and client.health() == ("ok", "")
    llama_server.stop()
    try:
        with pytest.raises(LLMUnavailableError, match="cannot reach the OpenAI-compatible server"):
            client.generate(MSG, max_tokens=2)
        assert client.breaker_state == "open" and client.health()[0] == "down"
        with pytest.raises(LLMUnavailableError, match=r"circuit breaker open: next try in \d"):
            list(client.stream(MSG, max_tokens=2))  # fails fast, the stream too
        client.breaker_cooldown = 0.0  # the cool-down is over: one trial goes through
        assert client.breaker_state == "half-open" and client.health()[0] == "degraded"
        with pytest.raises(LLMUnavailableError, match="cannot reach"):
            client.generate(MSG, max_tokens=2)
        client.breaker_cooldown = 60.0
        assert client.breaker_state == "open"  # the failed trial opened it for another cool-down
    finally:
        llama_server.start()
    client.breaker_cooldown = 1.0
    _until(lambda: client.breaker_state == "half-open", "the circuit to half-open")
    # the trial is a stream: its first piece closes the circuit, and the next call goes straight through
    assert "".join(client.stream(MSG, max_tokens=4)).strip()
    assert client.breaker_state == "closed" and client.health() == ("ok", "")
    assert client.generate(MSG, max_tokens=3).text
    assert client.usage.failures == 3


def test_a_hung_server_fails_within_the_deadline_and_opens_the_circuit(llama_server: LlamaServer) -> None:
    # the timeout alone would wait 3 tries x 60 s; the 2 s deadline is what ends each call
    client = _remote(llama_server, timeout=60.0, max_retries=2, deadline=2.0, breaker_cooldown=60.0)
    assert llama_server.proc is not None
    os.kill(llama_server.proc.pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        with pytest.raises(LLMTimeoutError, match=r"no answer within the call's 2s deadline \(1 try"):
            client.generate(MSG, max_tokens=2)
        assert time.monotonic() - start < 60.0  # far below one try's timeout: not a speed check
        assert client.breaker_state == "closed" and client.health()[0] == "degraded"
        # the second timed-out call in a row opens the circuit; the error still names the deadline
        with pytest.raises(LLMUnavailableError, match=r"2s deadline.*circuit breaker now open"):
            list(client.stream(MSG, max_tokens=2))
        assert client.breaker_state == "open" and client.health()[0] == "down"
        with pytest.raises(LLMUnavailableError, match="circuit breaker open: next try in"):
            client.generate(MSG, max_tokens=2, deadline=30.0)
    finally:
        os.kill(llama_server.proc.pid, signal.SIGCONT)
    # resumed, the server answers again: the trial after the cool-down closes the circuit
    client.breaker_cooldown = 1.0
    _until(lambda: client.breaker_state == "half-open", "the circuit to half-open")
    assert client.generate(MSG, max_tokens=2, deadline=WAIT_S).text
    assert client.health() == ("ok", "")


class HeldLLM:
    """An in-process backend whose calls run until the test lets them go (fault injection: a hung model).

    Like llama.cpp, it runs one call at a time and cannot be cancelled.
    """

    backend = "held"
    model = "in-process"
    context_window = 4096
    in_process = True

    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()
        self.running = threading.Event()

    def generate(self, messages, *, max_tokens=256, stop=None, temperature=0.0) -> Completion:
        self.calls += 1
        self.running.set()
        try:
            self.release.wait(WAIT_S)
        finally:
            self.running.clear()
        return Completion("done", 5, 1)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


@pytest.mark.fast
def test_an_abandoned_in_process_call_is_not_queued_behind() -> None:
    llm = HeldLLM()
    client = LLMClient(llm, timeout=0.2, max_retries=3, backoff=0.0)
    other = LLMClient(llm)  # a second client over the same model sees the same held model
    with pytest.raises(LLMTimeoutError, match=r"still running in this process.*no retry is queued"):
        client.generate(MSG)
    assert llm.calls == 1  # no retry was started behind the running call
    for c in (client, other):
        with pytest.raises(LLMTransientError, match=r"still running in this process .* not queueing behind it"):
            c.generate(MSG)
        with pytest.raises(LLMTransientError, match="still running in this process"):
            list(c.stream(MSG))
    status, reason = client.health()
    assert status == "degraded" and "still running" in reason
    assert llm.calls == 1 and client.breaker_state == "closed"  # one timeout does not open the circuit
    llm.release.set()
    _until(lambda: "still running" not in client.health()[1], "the abandoned call to finish")
    assert client.generate(MSG).text == "done" and llm.calls == 2
    assert client.health() == ("ok", "")


@pytest.mark.fast
def test_a_call_that_times_out_queued_behind_a_busy_in_process_model_never_runs() -> None:
    llm = HeldLLM()
    busy = LLMClient(llm, timeout=None)
    first = threading.Thread(target=busy.generate, args=(MSG,))
    first.start()
    try:
        assert llm.running.wait(WAIT_S)
        queued = LLMClient(llm, timeout=0.2, max_retries=1, backoff=0.0)
        with pytest.raises(LLMError, match=r"gave up after 2 tries: .*busy with other calls.*never started"):
            queued.generate(MSG)
        # a model that is busy is not a backend that is down: the circuit stays closed
        assert queued.breaker_state == "closed" and queued.health()[0] == "degraded"
    finally:
        llm.release.set()
        first.join(WAIT_S)
    assert llm.calls == 1  # the queued call was not generated later, for nobody
    assert queued.generate(MSG).text == "done" and llm.calls == 2


def test_a_stream_closed_early_lets_go_of_the_in_process_model(local_llm) -> None:
    """Real llama.cpp in-process: a reader that leaves after the first piece (a browser tab closed)."""
    client = LLMClient(local_llm, timeout=120.0)
    pieces = client.stream([{"role": "user", "content": "Count from one to fifty in words."}], max_tokens=64)
    assert next(pieces)
    pieces.close()
    assert client.health() == ("ok", "")  # not an abandoned call: it stopped and freed the model
    assert client.generate(MSG, max_tokens=2, deadline=WAIT_S).text


class GatedLLM(FaultyLLM):
    """FaultyLLM whose calls wait, once ``hold`` is set, until ``release`` is."""

    def __init__(self, script: list, default: object = "ok") -> None:
        super().__init__(script, default)
        self.hold, self.release, self.entered = threading.Event(), threading.Event(), threading.Event()

    def generate(self, messages, **kwargs) -> Completion:
        if self.hold.is_set():
            self.entered.set()
            self.release.wait(WAIT_S)
        return super().generate(messages, **kwargs)


@pytest.mark.fast
def test_half_open_lets_one_trial_through_and_fails_the_others_fast() -> None:
    llm = GatedLLM([DOWN, DOWN])
    client = LLMClient(llm, breaker_cooldown=60.0, backoff=0.0)
    with pytest.raises(LLMUnavailableError, match="connection refused"):
        client.generate(MSG)
    with pytest.raises(LLMUnavailableError, match=r"connection refused \(circuit breaker open: next try in"):
        asyncio.run(client.agenerate(MSG))  # the async path fails fast too, before waiting for a slot
    client.breaker_cooldown = 0.0  # the cool-down is over
    with pytest.raises(LLMUnavailableError):  # a failed trial opens it for another cool-down
        client.generate(MSG)
    client.breaker_cooldown = 60.0
    assert llm.calls == 2 and client.breaker_state == "open"
    client.breaker_cooldown = 0.0
    llm.hold.set()
    results: list[object] = []
    trial = threading.Thread(target=lambda: results.append(client.generate(MSG).text))
    trial.start()
    try:
        assert llm.entered.wait(WAIT_S)
        with pytest.raises(LLMUnavailableError, match="half-open: a trial call is under way"):
            client.generate(MSG)
        assert client.health()[0] == "degraded"
    finally:
        llm.release.set()
        trial.join(WAIT_S)
    assert results == ["ok"] and client.breaker_state == "closed" and llm.calls == 3
    client.generate(MSG)  # closed: calls go through again
    client.reset_availability()  # still closes (a no-op here); the old name keeps working
    assert client.breaker_state == "closed"


@pytest.mark.fast
def test_transient_failures_do_not_open_the_circuit_but_degrade_health() -> None:
    llm = FaultyLLM([TRANSIENT] * 5, default="ok")
    client = LLMClient(llm, max_retries=1, backoff=0.0)
    for _ in range(2):
        with pytest.raises(LLMError, match="gave up after 2 tries: HTTP 503"):
            client.generate(MSG)
    assert client.breaker_state == "closed"
    assert client.health() == ("degraded", "fault script: HTTP 503 (the last try failed)")
    client.generate(MSG)  # one more 503, then the answer
    assert client.health() == ("ok", "")


@pytest.mark.fast
def test_the_deadline_spans_tries_and_backoff() -> None:
    llm = FaultyLLM([TRANSIENT] * 5, default="ok")
    client = LLMClient(llm, max_retries=5, backoff=30.0, deadline=5.0)
    with pytest.raises(LLMTimeoutError, match=r"5s deadline \(1 try, no time left for another try; last: HTTP 503"):
        client.generate(MSG)
    assert llm.calls == 1  # a 30 s backoff cannot fit a 5 s deadline: no wait, no second try
    assert client.usage.failures == 1
    # a call's own deadline replaces the client's
    llm = FaultyLLM([TRANSIENT], default="ok")
    client = LLMClient(llm, backoff=0.01, deadline=0.001)
    assert client.generate(MSG, deadline=WAIT_S).text == "ok" and llm.calls == 2


@pytest.mark.fast
def test_close_ends_the_client(tmp_path: Path) -> None:
    with LLMClient(FaultyLLM([], default="ok"), cache=tmp_path / "c.sqlite") as client:
        assert client.generate(MSG).text == "ok"
    assert client.health() == ("down", "fault script: the LLM client is closed")
    with pytest.raises(LLMUnavailableError, match="the LLM client is closed"):
        client.generate(MSG)
    with pytest.raises(LLMUnavailableError, match="the LLM client is closed"):
        list(client.stream(MSG))
    with pytest.raises(sqlite3.ProgrammingError):  # the cache the client opened is closed with it
        len(client.cache)  # type: ignore[arg-type]
    client.close()  # idempotent
    # a cache handed in stays its owner's
    from clir_rag.llm import SqliteCache

    shared = SqliteCache(tmp_path / "shared.sqlite")
    LLMClient(FaultyLLM([], default="ok"), shared).close()
    assert len(shared) == 0

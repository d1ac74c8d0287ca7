"""clir-rag serve under the conditions of issue 25, for real (uvicorn via ``clir-rag serve``, the llama.cpp server):
clients that leave mid-stream or while queued, a 60 MB chunked upload, a foreign Host, CORS preflights with the
key, ingestion through the service, the answer's language for short queries, SIGTERM with work stuck, a port in
use."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="needs the [serve] extra")

from clir_rag.testing.llm_faults import GarbleServer
from clir_rag.testing.servers import free_port
from tests.test_serve import KEY, QUESTION, call, served, served_process

ORIGIN = "http://app.example"


@pytest.fixture(scope="module")
def writable(
    demo_index_dir: Path, llm_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The service over a copy of the demo index with writes on, behind a key, answering with llama.cpp."""
    import shutil

    index = tmp_path_factory.mktemp("writable") / "index"
    shutil.copytree(demo_index_dir, index)
    args = ["--base-url", llm_server, "--model", "qwen", "--allow-writes", "--cors-origin", ORIGIN]
    with served_process(index, *args, env={"CLIR_RAG_API_KEY": KEY}) as (url, proc):
        yield url, proc


def health(url: str) -> dict:
    return call(url, "/health")[2]


def wait_for(check, what: str, timeout: float = 60.0) -> None:
    """Poll ``check()`` until true; fail naming ``what`` after ``timeout`` seconds (a bound, not a speed test)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:.0f}s: {what}")
        time.sleep(0.1)


def raw_request(url: str, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> socket.socket:
    """A request written on a plain socket, left open (for clients that leave, or never finish sending)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return sock


def vm_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


# -- admission ---------------------------------------------------------------------------------------------------


def open_stream(url: str, body: dict) -> tuple[socket.socket, dict]:
    """``POST /answer/stream`` on a socket read up to its first event, ``sources``: the socket and that event."""
    sock = raw_request(url, "POST", "/answer/stream", json.dumps(body).encode(), {"X-API-Key": KEY})
    received = b""
    while b"\n\n" not in received.partition(b"event: sources\n")[2]:
        chunk = sock.recv(65536)
        assert chunk, received
        received += chunk
    assert received.startswith(b"HTTP/1.1 200 "), received
    data = received.partition(b"event: sources\n")[2].split(b"\n\n")[0]
    return sock, json.loads(data.removeprefix(b"data: "))


def first_event(url: str, body: dict) -> dict:
    """The ``sources`` event of ``/answer/stream``; the client leaves after it."""
    sock, sources = open_stream(url, body)
    sock.close()
    return sources


# one passage, and the language given: the least work for the model (and no language detector to load)
STREAM = {"query": QUESTION, "k": 1, "query_lang": "de"}


def test_a_stream_whose_client_leaves_after_the_first_event_frees_the_model_at_once(writable) -> None:
    url, _ = writable
    sock, _ = open_stream(url, STREAM)
    assert health(url)["queue"]["running"] == 1  # the stream holds the model's one slot...
    sock.close()  # ... and its client leaves after the first event, as `curl | head -c 200` does
    # ... which frees it, without the garbage collector: the generation is closed as the client goes
    wait_for(lambda: health(url)["queue"] == {"running": 0, "waiting": 0, "workers": 1, "size": 4}, "slot freed")
    # the next answer gets the slot (its sources come once it holds it), and leaving frees it again
    sock, sources = open_stream(url, STREAM)
    assert sources["passages"] and health(url)["queue"]["running"] == 1
    sock.close()
    wait_for(lambda: health(url)["queue"]["running"] == 0, "slot freed again")


def test_a_queued_request_whose_client_left_is_dropped_and_sigterm_ends_stuck_work(
    demo_index_dir: Path, tmp_path: Path
) -> None:
    # a model that stays busy until released: the first answer holds the slot, the second waits behind it
    llm = GarbleServer(["Tu Youyou hat das Artemisinin entdeckt [1]."], hold=True)
    first: dict = {}
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n", encoding="utf-8")  # the key from a file, not the command line
    try:
        args = ["--base-url", llm.url, "--model", "m", "--queue-size", "1", "--shutdown-timeout", "1"]
        args += ["--api-key-file", str(key_file)]
        with served_process(demo_index_dir, *args) as (url, proc):

            def ask() -> None:
                try:  # query_lang: no language detection to load (slow, and not what is tested here)
                    first["status"] = call(url, "/answer", {"query": QUESTION, "query_lang": "de"})[0]
                except OSError as e:  # the server went away under it
                    first["status"] = type(e).__name__

            worker = threading.Thread(target=ask, daemon=True)
            worker.start()
            assert llm.received.wait(60)
            assert call(url, "/search", {"query": QUESTION}, key=None)[0] == 401
            body = json.dumps({"query": QUESTION, "query_lang": "de"}).encode()
            waiting = raw_request(url, "POST", "/answer", body, {"X-API-Key": KEY})
            wait_for(lambda: health(url)["queue"]["waiting"] == 1, "the second request queued")
            waiting.close()  # its client gives up while it waits
            wait_for(lambda: health(url)["queue"]["waiting"] == 0, "the abandoned request dropped")
            assert health(url)["queue"]["running"] == 1  # the first one still holds the model
            # SIGTERM while the first answer is stuck in the LLM: drained for 1 s, then the process ends anyway
            # (uvicorn ends by raising the signal again once it has shut down: -SIGTERM, or 0 if cut short)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
            worker.join(60)
            assert first["status"] != 200
    finally:
        llm.release.set()
        llm.close()


# -- what is read, and from whom ----------------------------------------------------------------------------------


def upload(url: str, path: str, headers: dict, total: int) -> tuple[int, int]:
    """``total`` bytes sent chunked to ``path``, from another thread, while the answer is read here: (status, bytes
    the server took before it stopped reading or closed)."""
    sock = raw_request(url, "POST", path, headers={"Transfer-Encoding": "chunked", **headers})
    sent = [0]
    piece = b"x" * (1 << 20)

    def send() -> None:
        try:
            while sent[0] < total:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                sent[0] += len(piece)
            sock.sendall(b"0\r\n\r\n")
        except OSError:  # the server answered and closed, or stopped reading (the socket's timeout)
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    try:
        sock.shutdown(socket.SHUT_RDWR)  # unblocks the sender, were the server no longer reading
    except OSError:
        pass
    sock.close()
    sender.join(60)
    return int(head.split(b" ")[1]), sent[0]


def test_a_60_mb_chunked_body_is_refused_without_being_read(writable) -> None:
    url, proc = writable
    call(url, "/search", {"query": QUESTION, "query_lang": "de"})  # warm
    before = vm_rss_mib(proc.pid)
    status, _ = upload(url, "/search", {}, 60 << 20)  # no key: refused from the headers
    assert status == 401
    status, _ = upload(url, "/search", {"X-API-Key": KEY}, 60 << 20)  # a key: counted, refused past 64 KiB
    assert status == 413
    status, _ = upload(url, "/documents", {"X-API-Key": KEY}, 60 << 20)  # past the upload limit (8 MiB)
    assert status == 413
    assert vm_rss_mib(proc.pid) - before < 50
    assert call(url, "/search", {"query": QUESTION, "query_lang": "de"})[0] == 200


def test_a_foreign_host_is_refused_and_cors_lets_listed_origins_send_the_key(writable) -> None:
    url, _ = writable
    port = int(url.rsplit(":", 1)[1])
    for host, status in (("attacker.example", 400), (f"attacker.example:{port}", 400), (f"localhost:{port}", 200)):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/health", headers={"Host": host})
        resp = conn.getresponse()
        text = resp.read().decode()
        assert resp.status == status, (host, text)
        if status == 400:
            assert "'attacker.example' is not served here" in json.loads(text)["detail"]
    for origin, allowed in ((ORIGIN, True), ("http://elsewhere.example", False)):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "OPTIONS",
            "/search",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-api-key, content-type",
            },
        )
        resp = conn.getresponse()
        resp.read()
        assert (resp.status == 200) is allowed, (origin, resp.status)
        if allowed:
            assert resp.headers["access-control-allow-origin"] == ORIGIN
            assert "x-api-key" in resp.headers["access-control-allow-headers"].lower()


def test_the_api_docs_need_the_key_and_ask_a_browser_for_it(writable) -> None:
    url, _ = writable
    for path in ("/docs", "/openapi.json", "/redoc"):
        status, headers, _ = call(url, path, key=None)
        assert status == 401 and headers["www-authenticate"].startswith("Basic"), path
    status, _, schema = call(url, "/openapi.json")
    assert status == 200 and "/documents" in schema["paths"]
    import base64

    basic = base64.b64encode(f"anyone:{KEY}".encode()).decode()
    conn = http.client.HTTPConnection(*url.removeprefix("http://").split(":"), timeout=30)
    conn.request("GET", "/docs", headers={"Authorization": f"Basic {basic}"})
    assert conn.getresponse().status == 200
    # the page and its files stay open (it sends the key itself), and /health shows no reasons without the key
    assert call(url, "/", key=None)[0] == 200 and call(url, "/static/app.js", key=None)[0] == 200
    status, _, open_health = call(url, "/health", key=None)
    assert status == 200 and all(c["reason"] == "" for c in open_health["components"].values())


# -- ingestion ------------------------------------------------------------------------------------------------------

NEW = {"id": "quaoar", "lang": "de", "title": "Quaoar", "text": "Der Zwergplanet Quaoar trägt einen Ring weit "
       "außerhalb seiner Roche-Grenze, entdeckt mit Sternbedeckungen."}  # fmt: skip


def found(url: str, query: str, mode: str) -> list[str]:
    status, _, ranking = call(url, "/search", {"query": query, "k": 3, "mode": mode, "query_lang": "de"})
    assert status == 200, ranking
    return [c["doc_id"] for c in ranking["candidates"]]


def test_documents_are_added_and_deleted_through_the_service(writable) -> None:
    url, _ = writable
    before = health(url)["passages"]
    query = "Zwergplanet Quaoar Ring Roche-Grenze"
    assert "quaoar" not in found(url, query, "bm25")
    # a bad record: one line naming it, and nothing written, not even the good record before it
    bad = [{"id": "fine", "text": "Ein guter Satz.", "lang": "de"}, {"id": "empty", "text": "  "}]
    status, _, out = call(url, "/documents", bad)
    assert status == 400 and out["detail"].startswith("documents[1] (id='empty'): "), out
    assert "text is empty" in out["detail"]
    assert "\n" not in out["detail"] and health(url)["passages"] == before
    status, _, out = call(url, "/documents", [NEW, {**NEW, "id": "quaoar"}])
    assert status == 400 and "duplicate document id 'quaoar'" in out["detail"]

    status, _, out = call(url, "/documents", [NEW])
    assert status == 200 and out["documents"] == 1 and out["embedded"] >= 1, out
    assert found(url, query, "bm25")[0] == "quaoar" and found(url, query, "dense")[0] == "quaoar"
    assert health(url)["passages"] == before + out["passages"]
    status, _, again = call(url, "/documents", [NEW])  # the same document again: by id, nothing new
    assert status == 200 and again["embedded"] == 0 and health(url)["passages"] == before + out["passages"]

    status, _, gone = call(url, "/documents/quaoar", method="DELETE")
    assert status == 200 and gone == {"doc_id": "quaoar", "passages": out["passages"]}
    assert "quaoar" not in found(url, query, "bm25") and "quaoar" not in found(url, query, "hybrid")
    assert health(url)["passages"] == before
    status, _, missing = call(url, "/documents/quaoar", method="DELETE")
    assert status == 404 and "no document 'quaoar'" in missing["detail"]
    assert call(url, "/documents", [NEW], key=None)[0] == 401  # always behind the key


@pytest.fixture(scope="module")
def llm_down(demo_index_dir: Path) -> Iterator[str]:
    """The service with no LLM behind it (nothing listens at its URL) and writes off: search, the answer's
    language (told in the first event, before the LLM is asked) and refusals need no model."""
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with served(demo_index_dir, "--base-url", dead, "--model", "m", "--api-key", KEY) as url:
        yield url


def test_writes_are_off_unless_turned_on(llm_down: str) -> None:
    status, _, out = call(llm_down, "/documents", [NEW])
    assert status == 403 and "--allow-writes" in out["detail"]
    assert call(llm_down, "/documents/x", method="DELETE")[0] == 403


def test_writes_need_a_key(demo_index_dir: Path) -> None:
    refused = serve_cli("--index", str(demo_index_dir), "--allow-writes")
    assert refused.returncode == 1 and "Serving" not in refused.stdout
    assert refused.stderr.strip().splitlines() == [
        "error: --allow-writes needs an API key (CLIR_RAG_API_KEY or --api-key-file)"
    ]


# -- the answer's language ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["Eiffel tower", "Amazon river", "Nile length?"])
def test_a_short_query_is_answered_in_the_clients_language_else_the_index_s(
    llm_down: str, demo_index, query: str
) -> None:
    """lingua calls these Welsh, Esperanto and Irish, at 5-35% confidence: not a language to answer in."""
    url = llm_down
    sources = first_event(url, {"query": query, "k": 2, "client_lang": "en-GB"})
    assert (sources["lang"], sources["lang_source"]) == ("en", "client")
    sources = first_event(url, {"query": query, "k": 2})
    counts = {lang: m.count for lang, m in demo_index.language_stats.passages.items()}
    assert (sources["lang"], sources["lang_source"]) == (max(sorted(counts), key=lambda x: counts[x]), "index")
    sources = first_event(url, {"query": query, "k": 2, "client_lang": "en", "query_lang": "fr"})
    assert (sources["lang"], sources["lang_source"]) == ("fr", "query_lang")  # given: always wins
    sources = first_event(url, {"query": query, "k": 2, "client_lang": "xx-nonsense"})
    assert sources["lang_source"] == "index"  # a browser's unknown tag is passed over


def test_a_sure_query_language_is_kept(llm_down: str) -> None:
    sources = first_event(llm_down, {"query": QUESTION, "k": 2, "client_lang": "en"})
    assert (sources["lang"], sources["lang_source"]) == ("de", "detected")


# -- starting ---------------------------------------------------------------------------------------------------


def serve_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``clir-rag serve ARGS`` run to its end (these runs stop before serving)."""
    environ = {k: v for k, v in os.environ.items() if k != "CLIR_RAG_API_KEY"}
    command = [sys.executable, "-m", "clir_rag.cli", "serve", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={**environ, **(env or {})})


def test_a_port_in_use_is_one_line_and_not_exit_code_3(demo_index_dir: Path) -> None:
    for host in ("127.0.0.1", "0.0.0.0"):
        with socket.socket() as taken:
            taken.bind((host, 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            out = serve_cli("--index", str(demo_index_dir), "--host", host, "--port", str(port))
        assert out.returncode == 1 and "Serving" not in out.stdout, out
        said = f"error: port {port} on {host} is in use (another server?): stop it or choose another --port"
        lines = out.stderr.strip().splitlines()
        assert lines[-1] == said
        if host == "127.0.0.1":
            assert lines == [said]
        else:  # beyond this machine without a key: said, and which Host names will be served
            assert lines[0].startswith("warning: serving on 0.0.0.0 with no API key: anyone who reaches the port")
            assert lines[1].startswith("note: only Host headers localhost, 127.0.0.1, ::1 are served")


def test_the_key_from_a_file_and_its_mistakes(demo_index_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    out = serve_cli("--index", str(demo_index_dir), "--api-key-file", str(empty))
    assert out.returncode == 1 and out.stderr.strip() == f"error: --api-key-file {empty}: the file is empty"
    out = serve_cli("--index", str(demo_index_dir), "--api-key-file", str(empty), env={"CLIR_RAG_API_KEY": "x"})
    assert out.returncode == 1 and "give the API key once" in out.stderr


# -- the vector store down ---------------------------------------------------------------------------------------


def test_a_vector_store_that_goes_down_and_comes_back(tmp_path: Path, encoder) -> None:
    """Searches of the committed state go on from memory while the Chroma server is down; /health says the store
    is down, with the reason, and ok again once it is back."""
    from clir_rag.index import CrossLingualIndex
    from clir_rag.testing.servers import serving_chroma
    from clir_rag.types import Document

    index = tmp_path / "index"
    docs = [Document(id="a1", text="Der Eiffelturm steht in Paris.", lang="de")]
    with serving_chroma(tmp_path / "data") as (chroma, chroma_proc):
        CrossLingualIndex(index, encoder=encoder, chroma_url=chroma).add(docs, progress=False)
        dead = f"http://127.0.0.1:{free_port()}/v1"
        with served(index, "--base-url", dead, "--model", "m") as url:
            body = {"query": "Eiffelturm", "query_lang": "de"}
            assert call(url, "/search", body, key=None)[0] == 200
            chroma_proc.terminate()
            chroma_proc.wait(30)
            for mode in ("dense", "bm25", "hybrid"):  # the committed state, texts included, is in memory
                status, _, out = call(url, "/search", {**body, "mode": mode}, key=None)
                assert status == 200 and out["candidates"][0]["doc_id"] == "a1", (mode, out)
            status, _, state = call(url, "/health", key=None)
            assert status == 503 and state["status"] == "down" and state["components"]["store"]["status"] == "down"
            port = int(chroma.rsplit(":", 1)[1])
            with serving_chroma(tmp_path / "data", port):  # the same server back, with its data
                status, _, state = call(url, "/health", key=None)
                assert status == 200 and state["components"]["store"]["status"] == "ok", state

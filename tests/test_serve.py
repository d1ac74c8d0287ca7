"""clir-rag serve, run for real (uvicorn on a free 127.0.0.1 port) over the demo index: every endpoint, bad input
as one-line 4xx, the LLM down (503 on /answer, /search still works) and a full queue (503 + Retry-After)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="needs the [serve] extra")
pytest.importorskip("uvicorn", reason="needs the [serve] extra")

from clir_rag.testing.llm_faults import GarbleServer
from clir_rag.testing.servers import free_port, wait_until_up

KEY = "s3cret"
QUESTION = "Wer hat das Artemisinin entdeckt?"


@contextmanager
def served_process(
    index: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``clir-rag serve`` on a free port with ``args`` (and ``env`` added to the environment); yields its base URL
    and its process."""
    port = free_port()
    command = [sys.executable, "-m", "clir_rag.cli", "serve", "--index", str(index), "--port", str(port), *args]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})}
    )
    try:
        wait_until_up(proc, f"{url}/health", timeout=120)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def served(index: Path, *args: str) -> Iterator[str]:
    """``clir-rag serve`` on a free port with ``args``; yields its base URL."""
    with served_process(index, *args) as (url, _):
        yield url


def call(
    url: str,
    path: str,
    body: object = None,
    *,
    key: str | None = KEY,
    raw: bytes | None = None,
    method: str | None = None,
):
    """``(status, headers, parsed JSON or text)`` of a request; errors are answers too."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url + path, data=data, method=method or ("POST" if data is not None else "GET"))
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("X-API-Key", key)
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            status, headers, text = resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as e:
        status, headers, text = e.code, dict(e.headers), e.read().decode()
    try:
        return status, headers, json.loads(text)
    except json.JSONDecodeError:
        return status, headers, text


@pytest.fixture(scope="module")
def service(demo_index_dir: Path, llm_server: str) -> Iterator[str]:
    """The service over the demo index, answering with the llama.cpp server, behind an API key."""
    with served(demo_index_dir, "--base-url", llm_server, "--model", "qwen", "--api-key", KEY) as url:
        yield url


def test_health_and_search_across_languages(service: str) -> None:
    status, _, health = call(service, "/health", key=None)  # no key needed
    assert status == 200 and health["status"] == "ok" and health["passages"] > 0
    status, _, ranking = call(service, "/search", {"query": QUESTION, "k": 8})
    assert status == 200, ranking
    langs = {c["lang"] for c in ranking["candidates"]}
    assert len(ranking["candidates"]) == 8 and len(langs) > 1  # a German question, sources in several languages
    assert ranking["candidates"][0]["doc_id"] and {"start", "end"} <= set(ranking["candidates"][0]["metadata"])
    status, _, only = call(service, "/search", {"query": QUESTION, "k": 5, "languages": ["zh"], "mode": "bm25"})
    assert status == 200 and {c["lang"] for c in only["candidates"]} <= {"zh"}


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"query": ""}, 422, "query: String should have at least 1 character"),
        ({"query": "   "}, 422, "query: the query is blank"),
        # invisible to a reader, though str.strip keeps them: zero-width space and joiner, BOM, tags, private use
        ({"query": "\u200b\u200d\u2060"}, 422, "query: the query is blank"),
        ({"query": "\ufeff \U000e0041\U000e0042"}, 422, "query: the query is blank"),
        ({"query": "\ue000\U000f0000"}, 422, "query: the query is blank"),
        ({"query": "Hallo", "k": True}, 422, "k: Input should be a valid integer"),
        ({"query": "Hallo", "k": "5"}, 422, "k: Input should be a valid integer"),
        ({"query": "Hallo", "query_lang": "klingon"}, 400, "query_lang: unknown language code 'klingon'"),
        ({"query": "x" * 2001}, 422, "query: String should have at most 2000 characters"),
        ({"query": "Hallo", "mode": "sparse"}, 422, "mode: Input should be 'dense', 'bm25' or 'hybrid'"),
        ({"query": "Hallo", "k": 0}, 422, "k: Input should be greater than or equal to 1"),
        ({"query": "Hallo", "k": 1000}, 422, "k: Input should be less than or equal to 100"),
        ({"query": "Hallo", "languages": ["klingon"]}, 400, "klingon"),
        ({"query": "Hallo", "colour": "red"}, 422, "colour: Extra inputs are not permitted"),
    ],
)
def test_bad_search_input_is_a_one_line_4xx(service: str, body: dict, status: int, says: str) -> None:
    got, _, answer = call(service, "/search", body)
    assert got == status and says in answer["detail"], answer
    assert "\n" not in answer["detail"] and "Traceback" not in answer["detail"]


def test_api_key_and_body_size_are_checked(service: str) -> None:
    for key in (None, "wrong"):
        status, headers, answer = call(service, "/search", {"query": "Hallo"}, key=key)
        assert status == 401 and "API key" in answer["detail"] and headers.get("www-authenticate") == "Bearer"
    status, _, answer = call(service, "/search", raw=b"{" + b" " * 70_000 + b"}")
    assert status == 413 and "request body over" in answer["detail"]
    status, _, answer = call(service, "/search", raw=b"{not json")
    assert status == 422 and "\n" not in answer["detail"]


def test_answer_in_the_question_language_with_citations_and_streamed(service: str) -> None:
    status, _, answer = call(service, "/answer", {"query": QUESTION, "k": 5})
    assert status == 200, answer
    assert answer["lang"] == "de" and answer["text"] and answer["error"] is None
    assert (answer["answer_lang"], answer["answer_lang_source"]) == ("de", "detected")  # lingua is sure of it
    assert answer["passages"] and all(1 <= c <= len(answer["passages"]) for c in answer["citations"])
    events = stream(service, {"query": QUESTION, "k": 5})
    names = [name for name, _ in events]
    # the sources come first, then the answer as the model writes it, then the whole answer
    assert names[0] == "sources" and names[-1] == "answer" and set(names[1:-1]) == {"token"}, names
    sources, done = events[0][1], events[-1][1]
    assert len(sources["passages"]) == 5 and len({p["lang"] for p in sources["passages"]}) > 1
    assert sources["lang"] == done["lang"] == "de" and sources["lang_source"] == "detected"
    tokens = [data["text"] for name, data in events if name == "token"]
    assert len(tokens) > 3 and (done["language_fixed"] or "".join(tokens).strip() == done["text"])


def stream(url: str, body: dict, key: str | None = KEY) -> list[tuple[str, dict]]:
    """The server-sent events of ``POST /answer/stream``, as (event, data) pairs."""
    req = urllib.request.Request(
        f"{url}/answer/stream",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"X-API-Key": key} if key else {})},
    )
    with urllib.request.urlopen(req, timeout=300) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        blocks = [block for block in resp.read().decode().split("\n\n") if block.strip()]
    events = []
    for block in blocks:
        name, data = block.split("\n", 1)
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


def test_translate_endpoint(service: str) -> None:
    status, _, out = call(
        service, "/translate", {"text": "Der Hund schläft im Haus.", "source_lang": "de", "target_lang": "en"}
    )
    assert status == 200 and out["text"] and out["source_lang"] == "de" and out["target_lang"] == "en"
    status, _, out = call(service, "/translate", {"text": "Hallo", "source_lang": "xx-nope", "target_lang": "en"})
    assert status == 400 and "xx-nope" in out["detail"]


@pytest.fixture(scope="module")
def llm_down(demo_index_dir: Path) -> Iterator[tuple[str, str]]:
    """The service over the demo index with its LLM server down (nothing listens there), no API key: its URL and
    the dead LLM's. Nothing here changes it, so the tests of an LLM that is down share one."""
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with served(demo_index_dir, "--base-url", dead, "--model", "m") as url:
        yield url, dead


def test_the_llm_down_is_503_on_answer_while_search_works(llm_down: tuple[str, str]) -> None:
    url, _ = llm_down
    status, _, answer = call(url, "/search", {"query": QUESTION}, key=None)
    assert status == 200 and answer["candidates"]
    status, headers, answer = call(url, "/answer", {"query": QUESTION}, key=None)
    assert status == 503 and "the LLM is unavailable" in answer["detail"] and headers.get("retry-after") == "10"
    events = stream(url, {"query": QUESTION}, key=None)  # the page's way: sources, then the error
    assert [name for name, _ in events] == ["sources", "error"] and events[1][1]["status"] == 503
    assert "the LLM is unavailable" in events[1][1]["detail"]
    body = {"text": "Der Hund schläft im Haus.", "source_lang": "de", "target_lang": "en"}
    status, _, out = call(url, "/translate", body, key=None)  # not the source handed back as its translation
    assert status == 503 and "the LLM is unavailable" in out["detail"], out


def test_an_answer_stream_that_breaks_midway_ends_in_an_error_event(demo_index_dir: Path) -> None:
    text = "Der Hund schläft im Haus und träumt von Knochen."
    # the answer dies after two words; the next call, a translation of ``text``, gets ``text`` back
    llm = GarbleServer(["Tu Youyou hat das Artemisinin entdeckt [1].", text], break_after=2)
    try:
        with served(demo_index_dir, "--base-url", llm.url, "--model", "m") as url:
            events = stream(url, {"query": QUESTION}, key=None)
            assert [name for name, _ in events] == ["sources", "token", "token", "error"], events
            assert events[-1][1]["status"] == 503 and "stream broke after 2 pieces" in events[-1][1]["detail"]
            assert llm.calls == [1]  # not asked again: the page already shows the first words
            assert call(url, "/search", {"query": QUESTION}, key=None)[0] == 200
            # a "translation" that is the source: said so, not handed back as translated
            status, _, out = call(url, "/translate", {"text": text, "source_lang": "de", "target_lang": "en"}, key=None)
            assert status == 502 and "no en translation: the source echoed back" in out["detail"], out
    finally:
        llm.close()


def test_reranked_answers_from_the_embedded_model_in_process(demo_index_dir: Path) -> None:
    """No server: ``--llm`` left out loads the embedded GGUF in the service's process; ``--rerank`` reorders."""
    pytest.importorskip("llama_cpp", reason="needs the [local] extra")
    with served(demo_index_dir, "--rerank", "listwise") as url:
        # k=3: what is tested is the path (in-process model, reranked, streamed); longer prompts only cost CI time
        status, _, ranking = call(url, "/search", {"query": QUESTION, "k": 3}, key=None)
        assert status == 200
        status, _, answer = call(url, "/answer", {"query": QUESTION, "k": 3}, key=None)
        assert status == 200 and answer["reranked"] is True and answer["lang"] == "de" and answer["text"], answer
        # the answer's passages are the retrieved ones, reordered by the reranker
        assert {p["id"] for p in answer["passages"]} == {c["id"] for c in ranking["candidates"]}
        events = stream(url, {"query": QUESTION, "k": 3}, key=None)  # in-process llama.cpp streams too
        assert events[0][0] == "sources" and events[0][1]["reranked"] is True and events[-1][0] == "answer"
        assert sum(name == "token" for name, _ in events) > 3
        assert call(url, "/health", key=None)[0] == 200  # the model's lock was given back


def test_a_full_queue_is_503_with_retry_after(demo_index_dir: Path) -> None:
    llm = GarbleServer(["Tu Youyou [1]."], hold=True)  # a model that stays busy until the test releases it
    try:
        with served(demo_index_dir, "--base-url", llm.url, "--model", "m", "--queue-size", "0") as url:
            first: dict = {}

            def ask() -> None:
                first["status"], _, first["body"] = call(url, "/answer", {"query": QUESTION})

            worker = threading.Thread(target=ask)
            worker.start()
            assert llm.received.wait(60)  # the first answer holds the one LLM slot
            status, headers, answer = call(url, "/answer", {"query": QUESTION})
            assert status == 503 and headers.get("retry-after") == "10" and "busy" in answer["detail"]
            assert call(url, "/search", {"query": QUESTION})[0] == 200  # search needs no LLM slot
            llm.release.set()
            worker.join(60)
            assert first["status"] == 200 and first["body"]["text"].startswith("Tu Youyou")
    finally:
        llm.close()


def test_the_page_and_its_files_come_from_the_package_only(service: str) -> None:
    status, headers, page = call(service, "/", key=None)
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert '<label for="question">' in page and "/static/app.js" in page and "http" not in page.split("<body>")[1]
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        status, headers, _ = call(service, f"/static/{name}", key=None)
        assert status == 200 and kind in headers["content-type"]
    assert call(service, "/static/../app.py", key=None)[0] == 404
    status, _, health = call(service, "/health", key=None)
    assert {"de", "zh", "ar"} <= set(health["languages"])  # the page's language filter


RTL = {"ar", "he", "fa", "ur"}


@contextmanager
def browser_page(
    url: str,
    height: int,
    ready: str = "document.querySelectorAll('#languages option').length > 1",
    password: str | None = None,
) -> Iterator[tuple[Any, list[str]]]:
    """``url`` open in headless Chromium (Debian's, driven by Playwright: its own browser download does not work
    offline) once ``ready`` holds (the page's language filter loaded); yields the page and its JavaScript errors.
    ``password`` answers the browser's login prompt (the API docs ask for the key so)."""
    import shutil

    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (the dev extra)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium on this machine: apt-get install chromium (.ci/run does)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            login = {"http_credentials": {"username": "me", "password": password}} if password else {}
            page = browser.new_page(viewport={"width": 1100, "height": height}, locale="de-DE", **login)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.wait_for_function(ready)
            yield page, errors
        finally:
            browser.close()


ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def tiny_nllb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CTranslate2 model built here (no NMT model is on PyPI): its translations are gibberish, but they differ
    from the source every time, which the page's translation toggle must show."""
    pytest.importorskip("ctranslate2", reason="needs the [mt] extra")
    from tests.builders.tiny_nmt import build_tiny_nllb

    return build_tiny_nllb(tmp_path_factory.mktemp("tiny-nllb"))[1]


def test_the_page_in_a_real_browser_answers_a_german_question_with_sources_in_other_languages(
    demo_index_dir: Path, llm_server: str, tiny_nllb: Path
) -> None:
    """Headless Chromium (Debian's, driven by Playwright): ask, see the answer and its cited sources, toggle a
    translation. The screenshot lands in test-artifacts/serve-page.png."""
    args = ["--base-url", llm_server, "--model", "qwen", "--api-key", KEY, "--translate-model", str(tiny_nllb)]
    with served(demo_index_dir, *args) as service, browser_page(service, 1400) as (page, errors):
        page.get_by_label("API key").fill(KEY)
        page.get_by_label("Question").fill(QUESTION)
        page.keyboard.press("Enter")  # keyboard use: the form submits without the mouse
        page.wait_for_function(
            "document.querySelector('#status').textContent.startsWith('Answered')"
            " || document.querySelector('#status').className === 'error'",
            timeout=300_000,
        )
        assert page.locator("#status").get_attribute("class") != "error", page.locator("#status").inner_text()
        assert int(page.locator("#answer").get_attribute("data-pieces") or 0) > 3  # it appeared as streamed
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "serve-page.png"), full_page=True)
        assert page.locator("#answer").get_attribute("lang") == "de"
        # at least one citation, marked on its source
        assert page.locator(".card.cited").count() >= 1, page.locator("#answer").inner_text()
        cards = page.locator(".card")
        langs = [cards.nth(i).locator(".lang").inner_text() for i in range(cards.count())]
        assert cards.count() == 5 and any(lang != "de" for lang in langs), langs
        for i, lang in enumerate(langs):
            snippet = cards.nth(i).locator(".snippet")
            assert snippet.get_attribute("lang") == lang
            assert snippet.get_attribute("dir") == ("rtl" if lang in RTL else "ltr")
        foreign = langs.index(next(lang for lang in langs if lang != "de"))
        snippet = cards.nth(foreign).locator(".snippet")
        original = snippet.inner_text()
        cards.nth(foreign).get_by_role("button", name="Show translation").click()
        page.wait_for_function(
            "([i]) => document.querySelectorAll('.card .toggle')[i].getAttribute('aria-pressed') === 'true'"
            " || document.querySelector('#status').className === 'error'",
            arg=[foreign],
            timeout=120_000,
        )
        status = page.locator("#status").inner_text()
        assert snippet.inner_text() != original and snippet.get_attribute("lang") == "de", status
        page.screenshot(path=str(ARTIFACTS / "serve-page.png"), full_page=True)
        cards.nth(foreign).get_by_role("button", name="Show original").click()
        assert snippet.inner_text() == original
        assert errors == []


def test_the_page_says_the_llm_is_down_and_filters_sources_to_arabic_right_to_left(llm_down: tuple[str, str]) -> None:
    """The page with no LLM behind it: the sources still come (right to left, Arabic only, as filtered) and the
    status says plainly that the answering model is unavailable. Screenshot: test-artifacts/serve-page-llm-down.png."""
    service, dead = llm_down
    with browser_page(service, 900) as (page, errors):
        page.get_by_label("Source languages").select_option(["ar"])
        page.get_by_label("Question").fill("Wo fand die Fußball-Weltmeisterschaft 2022 statt?")
        page.get_by_role("button", name="Ask").click()
        page.wait_for_function("document.querySelector('#status').className === 'error'", timeout=120_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "serve-page-llm-down.png"), full_page=True)
        status = page.locator("#status").inner_text()
        assert status.startswith("The answering model is unavailable: cannot reach") and dead in status, status
        assert page.locator("#languages-hint").inner_text() == "Only: ar."
        assert page.locator("#answer").inner_text() == ""
        cards = page.locator(".card")
        assert cards.count() >= 1
        for i in range(cards.count()):
            assert cards.nth(i).locator(".lang").inner_text() == "ar"
            snippet = cards.nth(i).locator(".snippet")
            assert snippet.get_attribute("lang") == "ar" and snippet.get_attribute("dir") == "rtl"
        assert cards.nth(0).locator(".snippet").evaluate("e => getComputedStyle(e).textAlign") == "right"
        assert page.get_by_role("button", name="Ask").is_enabled() and errors == []


def test_the_api_docs_render_offline(service: str) -> None:
    """/docs is Swagger UI from the package (fastapi-offline), not a CDN: in a browser with no internet it shows
    every endpoint, with the package's pydantic types as the bodies. Behind the key, which a browser asks for."""
    assert call(service, "/openapi.json", key=None)[0] == 401
    status, _, schema = call(service, "/openapi.json")
    assert status == 200 and {"/health", "/search", "/answer", "/answer/stream", "/translate"} <= set(schema["paths"])
    assert {"SearchRequest", "Ranking", "ScoredCandidate", "AnswerResponse", "TranslateRequest"} <= set(
        schema["components"]["schemas"]
    )
    schemes = schema["components"]["securitySchemes"]  # so that /docs can send the key
    assert schemes["APIKeyHeader"]["name"] == "X-API-Key" and schemes["HTTPBearer"]["scheme"] == "bearer"
    status, _, html = call(service, "/docs")
    assert status == 200 and "cdn" not in html.lower() and "/static-docs/swagger-ui-bundle.js" in html
    ready = "document.querySelectorAll('.opblock-summary-path').length >= 5"
    with browser_page(f"{service}/docs", 1400, ready, password=KEY) as (page, errors):
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "serve-docs.png"), full_page=True)
        assert {"/health", "/search", "/answer", "/answer/stream", "/translate"} <= {p.strip() for p in paths}
        assert page.get_by_role("button", name="Authorize").count() == 1 and errors == []

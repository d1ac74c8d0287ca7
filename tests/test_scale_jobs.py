"""Corpus translation on Ray (a real local cluster, ray.init(num_cpus=2)): CTranslate2 actors give the
single-process job's output, share its sentence cache, and an interrupted run resumes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="needs the [ray] extra")
pytest.importorskip("ctranslate2", reason="needs the [mt] extra")

from clir_rag.scale import RayTranslator  # noqa: E402
from clir_rag.translate import CTranslate2Translator  # noqa: E402
from clir_rag.translate.corpus import translate_corpus  # noqa: E402
from clir_rag.types import Document  # noqa: E402
from tests.builders.tiny_nmt import build_tiny_nllb  # noqa: E402

SUPPORTED = {"en", "de", "sw", "zh", "fr", "ru"}  # the tiny model's languages


@pytest.fixture(scope="module")
def tiny_nllb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_nllb(tmp_path_factory.mktemp("tiny-nllb"))[1]


@pytest.fixture(scope="module")
def docs(demo_docs: list[Document]) -> list[Document]:
    chosen = [d for d in demo_docs if d.lang in SUPPORTED]
    assert len({d.lang for d in chosen}) == len(SUPPORTED) and any(d.title for d in chosen)
    return chosen


@pytest.fixture(scope="module")
def single_process(tiny_nllb: Path, docs: list[Document], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: the corpus translated into English in this process."""
    out = tmp_path_factory.mktemp("single") / "en.jsonl"
    translate_corpus(docs, CTranslate2Translator(tiny_nllb), "en", out, batch_size=4, progress=False)
    return out


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_ray_translation_is_the_single_process_output_and_shares_the_cache(
    ray_cluster, tiny_nllb: Path, docs: list[Document], single_process: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "sentences.sqlite"
    translator = RayTranslator(tiny_nllb, actors=2, cache=cache)
    assert translator.name == CTranslate2Translator(tiny_nllb).name  # the same source hashes, the same cache keys
    out = tmp_path / "en.jsonl"
    stats = translate_corpus(docs, translator, "en", out, batch_size=4, progress=False)
    assert out.read_bytes() == single_process.read_bytes()  # record for record, byte for byte
    english = sum(d.lang == "en" for d in docs)
    assert stats.translated == len(docs) - english and stats.copied == english
    assert stats.sentences == translator.stats.segments > stats.translated  # the actors' counts came back
    assert translator.stats.cache_hits == 0 and translator.stats.translated > 0

    # a rerun of the same output does nothing; a new output with the same cache translates nothing afresh
    assert translate_corpus(docs, translator, "en", out, batch_size=4, progress=False).skipped == len(docs)
    again = RayTranslator(tiny_nllb, actors=1, cache=cache)
    translate_corpus(docs, again, "en", tmp_path / "again.jsonl", batch_size=4, progress=False)
    assert (tmp_path / "again.jsonl").read_bytes() == single_process.read_bytes()
    assert again.stats.translated == 0 and again.stats.cache_hits == again.stats.segments > 0


class _Interrupted(RayTranslator):
    """The Ray translator, its driver stopped after ``ok`` batches were handed over (and so written)."""

    ok = 2

    def translate_batches(self, batches, tgt):
        for n, batch in enumerate(super().translate_batches(batches, tgt)):
            if n == self.ok:
                raise KeyboardInterrupt("simulated interruption")
            yield batch


def test_an_interrupted_ray_translation_resumes_to_the_same_records(
    ray_cluster, tiny_nllb: Path, docs: list[Document], single_process: Path, tmp_path: Path
) -> None:
    out = tmp_path / "en.jsonl"
    with pytest.raises(KeyboardInterrupt):
        translate_corpus(docs, _Interrupted(tiny_nllb, actors=2), "en", out, batch_size=4, progress=False)
    kept = len(_records(out))
    assert 0 < kept < len(docs)
    stats = translate_corpus(docs, RayTranslator(tiny_nllb, actors=2), "en", out, batch_size=4, progress=False)
    assert stats.skipped == kept and stats.translated + stats.copied == len(docs) - kept
    by_id = {r["id"]: r for r in _records(out)}
    assert len(by_id) == len(docs) == len(_records(out))  # each document once
    assert by_id == {r["id"]: r for r in _records(single_process)}


def test_translate_command_on_ray_and_an_unsupported_language_before_any_work(
    ray_cluster, tiny_nllb: Path, docs: list[Document], single_process: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from clir_rag.cli import app

    corpus = tmp_path / "corpus.jsonl"
    records = [{**d.metadata, **d.model_dump(exclude={"metadata"})} for d in docs]  # as a corpus file holds them
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    out = tmp_path / "en.jsonl"
    args = ["translate", str(corpus), "--to", "en", "--model", str(tiny_nllb), "-o", str(out), "--batch-size", "4"]
    result = CliRunner().invoke(app, [*args, "--ray", "--ray-actors", "2"])
    assert result.exit_code == 0, result.output
    assert f"Translated {len(docs) - sum(d.lang == 'en' for d in docs)} documents into en" in result.output
    assert out.read_bytes() == single_process.read_bytes()
    # BM25-DT on Ray: the index command translates on CTranslate2 actors, then embeds on encoder actors (a
    # document per language: the tiny model's translations are long gibberish, a minute of embedding for all)
    few = list({r["lang"]: r for r in records}.values())
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in few), encoding="utf-8")
    idx = tmp_path / "dt-index"
    dt = CliRunner().invoke(
        app, ["index", str(small), "--index", str(idx), "--translate-to", "en", "--model", str(tiny_nllb), "--ray"]
    )
    assert dt.exit_code == 0, dt.output
    assert f"Indexed {len(few)} documents" in dt.output
    translated = _records(idx / "translated.en.jsonl")
    assert sorted(r["id"] for r in translated) == sorted(r["id"] for r in few)
    assert {r["original_lang"] for r in translated} == SUPPORTED
    # Thai is not in the model: refused before an actor starts or a line is written
    th = CliRunner().invoke(app, [*args[:3], "th", *args[4:6], "-o", str(tmp_path / "th.jsonl"), "--ray"])
    assert th.exit_code == 1 and "not supported by the nllb model" in th.output
    assert not (tmp_path / "th.jsonl").exists() or (tmp_path / "th.jsonl").read_text() == ""


# -- reranking a run on Ray -------------------------------------------------------------------------


class CountingProxy:
    """A pass-through HTTP proxy on 127.0.0.1 in front of a real server: counts requests, the most in flight at
    once, and the prompt tokens the server's answers report (what the run's usage must add up to)."""

    def __init__(self, upstream: str) -> None:
        import http.server
        import threading
        import urllib.request

        self.requests = self.in_flight = self.most_in_flight = self.prompt_tokens = 0
        lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    proxy.requests += 1
                    proxy.in_flight += 1
                    proxy.most_in_flight = max(proxy.most_in_flight, proxy.in_flight)
                try:
                    req = urllib.request.Request(
                        upstream + self.path, data=body, headers={"Content-Type": "application/json"}
                    )
                    with urllib.request.urlopen(req, timeout=300) as resp:
                        status, answer = resp.status, resp.read()
                finally:
                    with lock:
                        proxy.in_flight -= 1
                with lock:
                    proxy.prompt_tokens += json.loads(answer).get("usage", {}).get("prompt_tokens", 0)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxies(llm_server: str) -> Iterator[list[CountingProxy]]:
    """Two endpoints (proxies to the session's llama.cpp server), as two vLLM servers would be."""
    upstream = llm_server.removesuffix("/v1")
    made = [CountingProxy(upstream), CountingProxy(upstream)]
    yield made
    for p in made:
        p.close()


def _rerank_inputs():
    from clir_rag.types import Query, Ranking, Run, ScoredCandidate

    docs = {
        "d1": Document(id="d1", text="Der Rhein mündet in die Nordsee.", lang="de"),
        "d2": Document(id="d2", text="Tu Youyou entdeckte das Artemisinin gegen Malaria.", lang="de"),
        "d3": Document(id="d3", text="Kahawa asili yake ni Ethiopia.", lang="sw"),
    }
    questions = [
        "Who discovered artemisinin?",
        "Where does the Rhine end?",
        "Where does coffee come from?",
        "Which drug fights malaria?",
        "Which sea does the Rhine flow into?",
    ]
    run = Run(name="first")
    for i, text in enumerate(questions):
        order = ["d1", "d3", "d2"] if i % 2 else ["d3", "d1", "d2"]
        run[f"q{i}"] = Ranking(
            query=Query(id=f"q{i}", text=text, lang="en"),
            candidates=[ScoredCandidate(id=d, doc_id=d, score=3.0 - r) for r, d in enumerate(order)],
            level="document",
        )
    return run, docs


def _ray_reranker(cache: Path, proxies: list[CountingProxy], per_endpoint: int):
    import functools

    from clir_rag.scale import RayReranker, server_reranker

    make = functools.partial(
        server_reranker,
        method="listwise",
        model="qwen",
        cache=str(cache),
        replica_of=proxies[0].url,
        depth=3,
        window=3,
        step=1,
    )
    return RayReranker(make, [p.url for p in proxies], per_endpoint=per_endpoint)


def test_reranking_on_ray_spreads_queries_bounded_per_endpoint_with_exact_usage_and_a_shared_cache(
    ray_cluster, proxies: list[CountingProxy], tmp_path: Path
) -> None:
    from clir_rag.llm import LLMClient
    from clir_rag.llm.openai_backend import OpenAICompatibleLLM
    from clir_rag.rerank.factory import make_reranker
    from clir_rag.rerank.run import rerank_run

    run, docs = _rerank_inputs()
    cache = tmp_path / "calls.sqlite"
    reranked, total = rerank_run(_ray_reranker(cache, proxies, per_endpoint=1), run, docs, depth=3)
    assert list(reranked) == list(run)  # every query, in the run's order
    assert all(sorted(r.ids) == ["d1", "d2", "d3"] for r in reranked.values())
    assert total.queries == len(run) and total.windows_ok + total.windows_repaired == len(run)
    # bounded: one worker per endpoint, so never two requests at once on one; and both endpoints served
    assert [p.most_in_flight for p in proxies] == [1, 1] and all(p.requests > 0 for p in proxies)
    # exact: the run's usage is what the servers saw, no call lost or counted twice
    assert total.usage.calls == sum(p.requests for p in proxies) == len(run)
    assert total.usage.prompt_tokens == sum(p.prompt_tokens for p in proxies) > 0

    # a rerun shares the cache whichever replica a query lands on this time: no call reaches a server
    before = sum(p.requests for p in proxies)
    again, again_total = rerank_run(_ray_reranker(cache, proxies, per_endpoint=2), run, docs, depth=3)
    assert again_total.usage.calls == 0 and again_total.usage.cache_hits == len(run)
    assert again.lists() == reranked.lists() and sum(p.requests for p in proxies) == before
    # and so does the single-process path on the first replica's URL
    local = make_reranker("listwise", LLMClient(OpenAICompatibleLLM("qwen", base_url=proxies[0].url), cache=cache))
    local.depth, local.window, local.step = 3, 3, 1
    single, single_total = rerank_run(local, run, docs, depth=3)
    assert single_total.usage.cache_hits == len(run) and single.lists() == reranked.lists()


def test_a_rerank_worker_killed_mid_run_is_replaced_and_every_query_is_reranked_once(
    ray_cluster, proxies: list[CountingProxy], tmp_path: Path
) -> None:
    from clir_rag.rerank.run import rerank_run

    run, docs = _rerank_inputs()
    reranker = _ray_reranker(tmp_path / "calls.sqlite", proxies, per_endpoint=2)
    inner = reranker.rerank_many

    def killing_one_after_the_first(rankings):
        for n, result in enumerate(inner(rankings)):
            if n == 0:
                ray.kill(reranker.workers[-1], no_restart=False)  # Ray restarts it and reruns its query
            yield result

    reranker.rerank_many = killing_one_after_the_first
    reranked, total = rerank_run(reranker, run, docs, depth=3)
    assert list(reranked) == list(run) and all(sorted(r.ids) == ["d1", "d2", "d3"] for r in reranked.values())
    assert total.queries == len(run) and total.failures == 0
    # a killed worker's lost call is paid again, never counted twice
    assert total.usage.calls + total.usage.cache_hits == len(run) <= sum(p.requests for p in proxies)

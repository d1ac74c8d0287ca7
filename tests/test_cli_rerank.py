import json
from pathlib import Path

from typer.testing import CliRunner

from clir_rag.cli import app
from clir_rag.eval.trec import read_run
from tests.conftest import write_jsonl

runner = CliRunner()


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    corpus = write_jsonl(
        tmp_path / "corpus.jsonl",
        [
            json.dumps({"id": "d1", "text": "Der Rhein mündet in die Nordsee.", "lang": "de"}),
            json.dumps({"id": "d2", "text": "Tu Youyou entdeckte das Artemisinin gegen Malaria.", "lang": "de"}),
            json.dumps({"id": "d3", "text": "Bienen bestäuben Pflanzen.", "lang": "de"}),
        ],
    )
    queries = tmp_path / "queries.tsv"
    queries.write_text("q1\tWho discovered artemisinin?\nq2\tWhere does the Rhine end?\n", encoding="utf-8")
    run = tmp_path / "first.run"
    run.write_text(
        "".join(
            f"{q} Q0 {d} {r} {s} bm25\n"
            for q in ("q1", "q2")
            for r, (d, s) in enumerate([("d1", 3.0), ("d3", 2.0), ("d2", 1.0)], start=1)
        )
    )
    return corpus, queries, run


def test_rerank_writes_a_trec_run_and_reruns_from_cache(tmp_path: Path, local_llm) -> None:
    corpus, queries, run = _files(tmp_path)
    args = [
        "rerank",
        str(run),
        "--queries",
        str(queries),
        "--corpus",
        str(corpus),
        "-o",
        str(tmp_path / "out.run"),
        "--method",
        "pairwise-heap",
        "--top-k",
        "2",
        "--cache",
        str(tmp_path / "cache.sqlite"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = read_run(tmp_path / "out.run").lists()
    assert set(out) == {"q1", "q2"}
    assert all(sorted(d for d, _ in docs) == ["d1", "d2", "d3"] for docs in out.values())
    assert "Reranked 2 queries" in result.output and "0 cache hits" in result.output
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "0 LLM calls" in again.output
    assert read_run(tmp_path / "out.run").lists() == out


def test_rerank_bad_inputs(tmp_path: Path) -> None:
    corpus, queries, _ = _files(tmp_path)
    bad = tmp_path / "bad.run"
    bad.write_text("q1 Q0 d1 1\n")
    result = runner.invoke(
        app, ["rerank", str(bad), "--queries", str(queries), "--corpus", str(corpus), "-o", str(tmp_path / "o.run")]
    )
    assert result.exit_code == 1 and "bad.run:1: expected 6 columns" in result.output
    other = tmp_path / "other.run"
    other.write_text("q9 Q0 d1 1 1.0 x\n")
    result = runner.invoke(
        app, ["rerank", str(other), "--queries", str(queries), "--corpus", str(corpus), "-o", str(tmp_path / "o.run")]
    )
    assert result.exit_code == 1 and "queries q9 are not in" in result.output
    missing_doc = tmp_path / "m.run"
    missing_doc.write_text("q1 Q0 nope 1 1.0 x\n")
    result = runner.invoke(
        app,
        ["rerank", str(missing_doc), "--queries", str(queries), "--corpus", str(corpus), "-o", str(tmp_path / "o.run")],
    )
    assert result.exit_code == 1 and "not in" in result.output and "'nope'" in result.output


def _args(tmp_path: Path, url: str) -> list[str]:
    corpus, queries, run = _files(tmp_path)
    return [
        "rerank", str(run), "--queries", str(queries), "--corpus", str(corpus), "-o", str(tmp_path / "out.run"),
        "--method", "listwise", "--window", "2", "--step", "1", "--base-url", url, "--model", "m",
    ]  # fmt: skip


def test_rerank_with_the_llm_server_down_fails_and_writes_nothing(tmp_path: Path) -> None:
    """Issue 14 item 4: with the server down, rerank exited 0 and wrote the first stage unchanged."""
    from clir_rag.testing.servers import free_port

    result = runner.invoke(app, _args(tmp_path, f"http://127.0.0.1:{free_port()}/v1"))
    assert result.exit_code == 1 and "every LLM answer failed" in result.output and "cannot reach" in result.output
    assert not (tmp_path / "out.run").exists()


def test_rerank_exits_3_when_too_many_answers_fail(tmp_path: Path) -> None:
    from clir_rag.testing.llm_faults import GarbleServer

    server = GarbleServer(["[2] > [1]", "I cannot help with that."])  # every other window unreadable
    try:
        result = runner.invoke(app, _args(tmp_path, server.url))
        assert result.exit_code == 3, result.output
        assert "warning: 2 of 4 LLM answers failed (50% > --max-failed-ratio 10%)" in result.output
        assert read_run(tmp_path / "out.run").lists()  # written: the readable windows count
        relaxed = runner.invoke(app, [*_args(tmp_path, server.url), "--max-failed-ratio", "0.6"])
        assert relaxed.exit_code == 0, relaxed.output
    finally:
        server.close()


def test_rerank_inputs_are_read_and_checked_before_a_model_loads(tmp_path: Path) -> None:
    """What `clir-rag rerank` calls, from Python: inputs, then the reranker; an unknown method before either."""
    import pytest

    from clir_rag.errors import InputError
    from clir_rag.rerank.files import load_reranker, read_rerank_inputs, rerank_files

    corpus, queries, run = _files(tmp_path)
    inputs = read_rerank_inputs(run, queries, corpus, depth=2)
    assert set(inputs.run) == {"q1", "q2"} and inputs.run["q1"].query.text == "Who discovered artemisinin?"
    assert sorted(inputs.documents) == ["d1", "d3"]  # only the top 2 of each query are read
    with pytest.raises(InputError, match="unknown rerank method 'magic'"):
        rerank_files(tmp_path / "none.run", queries, corpus, tmp_path / "o.run", method="magic")
    for options, message in (
        ({"method": "cross-encoder", "ray": True}, "it takes --model, not --ray or --base-url"),
        ({"base_url": "http://a/v1,http://b/v1", "model": "m"}, "several --base-url servers need --ray"),
        ({"ray": True, "model": "m"}, "give --base-url and --model"),
    ):
        with pytest.raises(InputError, match=message):
            load_reranker(**options)
    assert not (tmp_path / "o.run").exists()

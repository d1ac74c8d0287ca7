import json
from pathlib import Path

import pytest

from clir_rag.corpus import read_corpus
from clir_rag.errors import CorpusError
from tests.conftest import write_jsonl

pytestmark = pytest.mark.fast  # no LLM, server or index build: in the fast tier (make test-fast)


def test_reads_jsonl_with_all_fields_and_keeps_extra_metadata(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [
            json.dumps({"id": "a", "text": "Hallo Welt", "lang": "deu", "title": "T", "url": "http://x"}),
            "",
            json.dumps({"docid": "b", "text": "Habari", "lang": "sw"}),
            json.dumps({"_id": 7, "text": "你好", "language": "zh"}),
        ],
    )
    docs = read_corpus(path)
    assert [(d.id, d.lang) for d in docs] == [("a", "de"), ("b", "sw"), ("7", "zh")]
    assert docs[0].title == "T"
    assert docs[0].metadata == {"url": "http://x"}


def test_default_language_applies_only_to_records_without_one(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "c.jsonl", [json.dumps({"id": "a", "text": "x"}), json.dumps({"id": "b", "text": "y", "lang": "fr"})]
    )
    assert [d.lang for d in read_corpus(path, lang="de")] == ["de", "fr"]


@pytest.mark.parametrize(
    ("lines", "pattern"),
    [
        (
            ['{"id": "a", "text": "ok"}', '{"id": "b", "text": "   "}'],
            r"c\.jsonl:2 \(id='b'\): record: text is empty or whitespace, and there is no title",
        ),
        (['{"text": "no id here"}'], r"c\.jsonl:1: record has no id"),
        (['{"id": "a", "body": "x"}'], r"c\.jsonl:1 \(id='a'\): record has no 'text' field"),
        (
            ['{"id": "a", "text": "x"}', '{"id": "a", "text": "y"}'],
            r"duplicate document id 'a' \(record 2; first seen as record 1\)",
        ),
        (['{"id": "a", "text": "x"}', "this is not json"], r"c\.jsonl:2: not a JSON object"),
        (['["a", "list"]'], r"c\.jsonl:1: expected a JSON object, got list"),
        (['{"id": "a", "text": "x", "lang": "xx"}'], r"c\.jsonl:1 \(id='a'\): lang: unknown language code 'xx'"),
        (['{"id": "", "text": "x"}'], r"c\.jsonl:1: id: document id is empty"),
        (['{"id": null, "text": "x"}'], r"c\.jsonl:1: record id must be a string or an integer, got None"),
    ],
)
def test_bad_jsonl_records_name_file_line_and_problem(tmp_path: Path, lines: list[str], pattern: str) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", lines)
    with pytest.raises(CorpusError, match=pattern):
        read_corpus(path)


def test_non_utf8_jsonl_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"id": "a", "text": "ok"}\n{"id": "b", "text": "caf\xe9"}\n')
    with pytest.raises(CorpusError, match=r"c\.jsonl:2: not valid UTF-8"):
        read_corpus(path)


def test_folder_of_txt_files_with_language_subfolders(tmp_path: Path) -> None:
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "hund.txt").write_text("Der Hund schläft.", encoding="utf-8")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("\ufeffPlain text.", encoding="utf-8")
    (tmp_path / "ignored.md").write_text("not a txt", encoding="utf-8")
    docs = read_corpus(tmp_path)
    assert [(d.id, d.lang, d.text) for d in docs] == [
        ("de/hund", "de", "Der Hund schläft."),
        ("notes/a", None, "Plain text."),
    ]


def test_non_utf8_txt_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9 latin-1")
    with pytest.raises(CorpusError, match=r"bad\.txt: not valid UTF-8 \(byte 3\)"):
        read_corpus(tmp_path)


def test_empty_txt_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"empty\.txt \(id='empty'\): record: text is empty"):
        read_corpus(tmp_path)


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no such file or folder"):
        read_corpus(tmp_path / "nope.jsonl")
    with pytest.raises(CorpusError, match=r"no \.txt files"):
        read_corpus(tmp_path)

"""Artificial code-switching of training examples: determinism, p, modes, coverage counts, JSONL."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from clir_rag.errors import InputError
from clir_rag.train.codeswitch import (
    TrainingExample,
    code_switch,
    read_examples,
    switch_text,
    write_examples,
)
from clir_rag.train.lexicon import Lexicon, word_pattern

pytestmark = pytest.mark.fast  # no LLM, server or index build: in the fast tier (make test-fast)

DE = Lexicon(
    "en",
    "de",
    {
        "the": ["die", "der"],
        "house": ["haus"],
        "is": ["ist"],
        "red": ["rot"],
        "old": ["alt"],
        "a": ["ein"],
        "city": ["stadt"],
        "river": ["fluss"],
        "in": ["in"],
        "what": ["was"],
    },
)
FR = Lexicon("en", "fr", {"the": ["la"], "house": ["maison"], "is": ["est"], "red": ["rouge"], "city": ["ville"]})
ZH = Lexicon("en", "zh", {"the": ["这"], "house": ["房子"], "red": ["红"], "city": ["城市"], "river": ["河"]})


def examples(n: int = 30, ids: bool = True) -> list[TrainingExample]:
    return [
        TrainingExample(
            query=f"What is the old house in the city, number {i}?",
            positive="The house is red; a river (the Rhine) runs through the city.",
            negatives=("A city is old.", "Nothing here matches at all!"),
            id=f"q{i}" if ids else None,
        )
        for i in range(n)
    ]


def words(text: str) -> list[str]:
    return [m.group() for m in word_pattern().finditer(text)]


def test_same_seed_same_output_in_any_order_or_batch() -> None:
    exs = examples()
    first, _ = code_switch(exs, DE, p=0.5, seed=7)
    again, _ = code_switch(exs, DE, p=0.5, seed=7)
    assert [s.example for s in first] == [s.example for s in again]
    # per-example generators: a shuffled input, or the examples one by one, switch each id the same way
    shuffled = exs[:]
    random.Random(1).shuffle(shuffled)
    by_id = {s.example.id: s.example for s in code_switch(shuffled, DE, p=0.5, seed=7)[0]}
    assert [by_id[s.example.id] for s in first] == [s.example for s in first]
    assert code_switch(exs[5:6], DE, p=0.5, seed=7)[0][0].example == first[5].example
    # another seed switches otherwise; the 30 identical texts do not all switch alike
    other, _ = code_switch(exs, DE, p=0.5, seed=8)
    assert [s.example for s in other] != [s.example for s in first]
    assert len({s.example.positive for s in first}) > 1
    # without ids, the position is the key
    no_ids = examples(ids=False)
    assert code_switch(no_ids, DE, seed=7)[0] == code_switch(no_ids, DE, seed=7)[0]


def test_p0_changes_nothing_p1_switches_every_covered_word() -> None:
    exs = examples(5)
    same, report = code_switch(exs, DE, p=0.0)
    assert [s.example for s in same] == exs
    assert report.by_field["query"].switched == 0 and report.by_field["query"].covered > 0

    out, report = code_switch(exs, DE, p=1.0)
    ex = out[0].example
    assert ex.query == "Was ist die alt haus in die stadt, number 0?"
    assert ex.positive == "Die haus ist rot; ein fluss (die Rhine) runs through die stadt."
    assert ex.negatives == ("Ein stadt ist alt.", "Nothing here matches at all!")
    for f in ("query", "positive", "negatives"):
        c = report.by_field[f]
        assert c.switched == c.covered > 0
    assert out[0].original == exs[0] and out[0].lang == "de"


def test_coverage_counts() -> None:
    exs = examples(4)
    out, report = code_switch(exs, DE, p=0.5, seed=3)
    # query: What is the old house in the city number -> 9 words, 8 covered ("number" is not)
    assert report.by_field["query"].as_dict() | {"switch_rate": 0} == {
        "seen": 36,
        "covered": 32,
        "switched": report.by_field["query"].switched,
        "coverage": round(32 / 36, 4),
        "switch_rate": 0,
    }
    # positive: The house is red a river the Rhine runs through the city -> 12 words, 9 covered
    assert (report.by_field["positive"].seen, report.by_field["positive"].covered) == (48, 36)
    # negatives: A city is old (4/4) + Nothing here matches at all (0/5)
    assert (report.by_field["negatives"].seen, report.by_field["negatives"].covered) == (36, 16)
    assert report.by_lang["de"]["positive"] == report.by_field["positive"]
    assert report.examples == 4 and report.examples_by_lang == {"de": 4}
    # switched counts the words replaced: those that changed, and some of the "in"s (in -> in changes nothing)
    changed = sum(a != b for s in out for a, b in zip(words(s.original.query), words(s.example.query), strict=True))
    assert changed <= report.by_field["query"].switched <= changed + sum(s.original.query.count(" in ") for s in out)
    assert 0 < report.by_field["query"].switched < 32
    json.dumps(report.as_dict())
    assert "de query" in str(report)


def test_punctuation_spacing_and_case_survive() -> None:
    text = "  THE house,\tthe (red) House's  old-city... Is it? 3rd red2 the_river"
    out, stats = switch_text(text, DE, 1.0, random.Random(0))
    assert out == "  DIE haus,\tdie (rot) House's  alt-stadt... Ist it? 3rd red2 the_river"
    assert (stats.seen, stats.covered, stats.switched) == (9, 7, 7)  # 3rd, red2, the_river are no words
    # non-letters between the words are untouched
    strip = lambda s: [c for c in s if not c.isalpha()]  # noqa: E731
    assert strip(out) == strip(text)
    assert switch_text("The house.", ZH, 1.0, random.Random(0))[0] == "这 房子."


def test_per_field_p_and_fields_are_independent() -> None:
    exs = examples(10)
    all_fields, _ = code_switch(exs, DE, p=0.5, seed=2)
    only_query, report = code_switch(exs, DE, p=0.5, seed=2, fields=("query",))
    assert [s.example.query for s in only_query] == [s.example.query for s in all_fields]
    assert [s.example.positive for s in only_query] == [e.positive for e in exs]
    assert report.p == {"query": 0.5, "positive": 0.0, "negatives": 0.0}
    mixed, report = code_switch(exs, DE, p={"query": 1.0, "positive": 0.0}, seed=2)
    assert report.by_field["query"].switched == report.by_field["query"].covered
    assert report.by_field["positive"].switched == report.by_field["negatives"].switched == 0
    assert [s.example.negatives for s in mixed] == [e.negatives for e in exs]


def test_multilingual_uses_several_languages() -> None:
    exs = examples(60)
    out, report = code_switch(exs, [DE, FR, ZH], p=1.0, mode="multilingual", seed=0)
    langs = [s.lang for s in out]
    assert set(langs) == {"de", "fr", "zh"}
    assert report.examples_by_lang == {lang: langs.count(lang) for lang in ("de", "fr", "zh")}
    for s in out:  # each example is switched into its own language only
        expected = {"de": "haus", "fr": "maison", "zh": "房子"}[s.lang]
        assert expected in s.example.positive
    total = sum(report.by_lang[lang]["positive"].switched for lang in report.by_lang)
    assert total == report.by_field["positive"].switched
    assert [s.lang for s in code_switch(exs, [DE, FR, ZH], mode="multilingual", seed=0)[0]] == langs
    assert [s.lang for s in code_switch(exs, [DE, FR, ZH], mode="multilingual", seed=1)[0]] != langs


def test_random_choice_uses_other_translations() -> None:
    exs = examples(20)
    out, _ = code_switch(exs, DE, p=1.0, choice="random", seed=0)
    articles = {w for s in out for w in words(s.example.positive) if w.lower() in ("die", "der")}
    assert {w.lower() for w in articles} == {"die", "der"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lexicons": [DE, FR]}, "bilingual mode takes one lexicon, got 2"),
        ({"lexicons": []}, "no lexicon given"),
        ({"lexicons": [DE, Lexicon("de", "fr", {"haus": ["maison"]})], "mode": "multilingual"}, "different source"),
        ({"p": 1.5}, "p for query must be in"),
        ({"p": {"title": 0.5}}, "p names unknown field"),
        ({"fields": ("query", "title")}, "unknown field"),
        ({"mode": "trilingual"}, "mode must be"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    kwargs = {"lexicons": DE} | kwargs
    with pytest.raises(InputError, match=message):
        code_switch(examples(2), **kwargs)


def test_jsonl_round_trip(tmp_path: Path) -> None:
    exs = [*examples(3), TrainingExample("q", "p")]
    assert TrainingExample("q", "p", ["n"]) == TrainingExample("q", "p", ("n",))  # type: ignore[arg-type]
    path = tmp_path / "train.jsonl"
    assert write_examples(path, exs) == 4
    assert read_examples(path) == exs
    out, _ = code_switch(exs, ZH, p=1.0)
    switched = tmp_path / "out" / "acs.jsonl"
    write_examples(switched, out)
    first = json.loads(switched.read_text(encoding="utf-8").splitlines()[0])
    assert first["lang"] == "zh" and first["original"]["query"] == exs[0].query and "房子" in first["positive"]
    assert "\\u" not in switched.read_text(encoding="utf-8")  # readable UTF-8
    assert read_examples(switched) == [s.example for s in out]  # switched files read as training data


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "not JSON (Expecting value at column 1)"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"positive": "p"}', "'query' must be a non-empty string"),
        ('{"query": "q", "positive": " "}', "'positive' must be a non-empty string"),
        ('{"query": "q", "positive": "p", "negatives": "n"}', "'negatives' must be a list of strings"),
        ('{"query": "q", "positive": "p", "id": [1]}', "'id' must be a string or an integer"),
    ],
)
def test_bad_jsonl_lines_name_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"query": "q", "positive": "p", "id": 7}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_examples(path)
    assert str(e.value) == f"{path}:3: {problem}"
    path.write_text('{"query": "q", "positive": "p", "id": 7}\n', encoding="utf-8")
    assert read_examples(path)[0].id == "7"

import itertools

import pytest

from clir_rag.chunk import Chunker, approximate_token_count
from clir_rag.retrieve import aggregate_passages
from clir_rag.types import Document, Query, Ranking, ScoredCandidate

GERMAN = (
    "Albert Einstein entwickelte die spezielle und die allgemeine Relativitätstheorie. Er erhielt 1921 den "
    "Nobelpreis für Physik für seine Erklärung des photoelektrischen Effekts. Später lebte er in Princeton, "
    "wo er bis zu seinem Tod am Institute for Advanced Study arbeitete und eine einheitliche Feldtheorie suchte."
)
CHINESE = (
    "爱因斯坦发展了狭义相对论和广义相对论。他于1921年获得诺贝尔物理学奖，"
    "以表彰他对光电效应的解释。后来他在普林斯顿高等研究院工作。"
)


@pytest.mark.parametrize("max_tokens", [16, 32, 64])
@pytest.mark.parametrize(("text", "lang"), [(GERMAN, "de"), (CHINESE, "zh")], ids=["de", "zh"])
def test_passages_fit_keep_offsets_and_cover_the_text(encoder, text: str, lang: str, max_tokens: int) -> None:
    chunker = Chunker(max_tokens=max_tokens, overlap=max_tokens // 4, token_counter=encoder.count_tokens)
    doc = Document(id="d", text=text, lang=lang)
    passages = chunker.chunk(doc)
    assert (len(passages) > 1) == (encoder.count_tokens(text) > max_tokens)
    for i, p in enumerate(passages):
        assert p.id == f"d#{i}" and p.index == i and p.doc_id == "d" and p.lang == lang
        assert doc.text[p.start : p.end] == p.text
        assert encoder.count_tokens(p.text) <= max_tokens
    # consecutive passages overlap or touch, and together they cover the text
    assert passages[0].start == 0 and passages[-1].end == len(text)
    for a, b in itertools.pairwise(passages):
        assert a.start < b.start <= a.end + 1


def test_overlap_repeats_the_tail_of_the_previous_passage(encoder) -> None:
    chunker = Chunker(max_tokens=24, overlap=8, token_counter=encoder.count_tokens)
    passages = chunker.chunk(Document(id="d", text=GERMAN, lang="de"))
    for a, b in itertools.pairwise(passages):
        shared = GERMAN[b.start : a.end]
        assert shared, "neighbouring passages must share text when overlap > 0"
        assert encoder.count_tokens(shared) <= 8


def test_no_overlap_gives_disjoint_passages(encoder) -> None:
    passages = Chunker(32, 0, encoder.count_tokens).chunk(Document(id="d", text=GERMAN, lang="de"))
    for a, b in itertools.pairwise(passages):
        assert b.start >= a.end


def test_short_document_is_one_passage(encoder) -> None:
    passages = Chunker(256, 32, encoder.count_tokens).chunk(Document(id="d", text="  Kurz.  ", lang="de"))
    assert [(p.text, p.start, p.end) for p in passages] == [("Kurz.", 2, 7)]


def test_unit_longer_than_window_stands_alone() -> None:
    url = "https://example.org/" + "a" * 200
    passages = Chunker(max_tokens=16, overlap=0).chunk(Document(id="d", text=f"see {url} now", lang="en"))
    assert [p.text for p in passages] == ["see", url, "now"]


def test_chunker_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        Chunker(max_tokens=4)
    with pytest.raises(ValueError, match="overlap"):
        Chunker(max_tokens=64, overlap=40)


def test_approximate_count_counts_cjk_per_character() -> None:
    assert approximate_token_count("你好世界") == 4
    assert approximate_token_count("internationalisation") == 5
    assert approximate_token_count("") == 0


def _c(pid: str, doc: str, score: float, index: int) -> ScoredCandidate:
    return ScoredCandidate(id=pid, doc_id=doc, score=score, metadata={"passage_index": index})


def test_maxp_and_firstp_aggregation() -> None:
    passages = Ranking(
        query=Query(text="q"),
        candidates=[_c("a#2", "a", 0.9, 2), _c("b#0", "b", 0.8, 0), _c("a#0", "a", 0.5, 0), _c("c#1", "c", 0.4, 1)],
    )
    maxp = aggregate_passages(passages, "maxp")
    assert [(c.id, c.score) for c in maxp] == [("a", 0.9), ("b", 0.8), ("c", 0.4)]
    assert maxp.candidates[0].metadata["passage_id"] == "a#2"
    assert maxp.level == "document"
    firstp = aggregate_passages(passages, "firstp")
    assert [(c.id, c.score) for c in firstp] == [("b", 0.8), ("a", 0.5)]

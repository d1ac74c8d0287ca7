"""BM25 analysis of invisible characters (issue 25): a zero-width joiner inside a word no longer splits it."""

import pytest

from clir_rag.store import BM25Index
from clir_rag.store.analysis import get_analyzer

pytestmark = pytest.mark.fast  # no LLM, server or index build: in the fast tier (make test-fast)

# zero-width joiner and non-joiner, soft hyphen, BOM, zero-width space, word joiner, a bidi mark, a variation selector
INVISIBLE = ["\u200d", "\u200c", "\u00ad", "\ufeff", "\u200b", "\u2060", "\u200e", "\ufe0f"]


def test_invisible_characters_inside_a_word_are_dropped() -> None:
    en = get_analyzer("en")
    for mark in INVISIBLE:
        assert en(f"Eif{mark}fel tower") == en("Eiffel tower") == ["eiffel", "tower"], repr(mark)
    assert get_analyzer("de")("\ufeffKaf\u00adfee") == ["kaffe"]  # a BOM at the start, a soft hyphen inside
    # no-space scripts: a zero-width space (a word-break hint in Thai) does not break the bigrams
    assert get_analyzer("th")("สวัส\u200bดี") == get_analyzer("th")("สวัสดี")


def test_persian_zero_width_non_joiner_separates_affixes() -> None:
    fa = get_analyzer("fa")
    # کتاب‌ها (books): the ZWNJ ends the stem, as a space would (Lucene's PersianCharFilter)
    assert fa("کتاب\u200cها") == fa("کتاب ها") == ["کتاب", "ها"]
    assert fa("کتاب\u200dها") == fa("کتابها")  # a joiner is only dropped, as elsewhere


def test_bm25_matches_a_word_with_a_zero_width_joiner_both_ways() -> None:
    index = BM25Index.build(
        [
            ("p1", "The Eif\u200dfel tower is in Paris.", "en"),
            ("p2", "Big Ben stands in London.", "en"),
            ("p3", "The Eiffel tower was finished in 1889.", "en"),
        ]
    )
    assert {h[0] for h in index.search("Eiffel", k=5)} == {"p1", "p3"}
    assert {h[0] for h in index.search("Eif\u00adfel", k=5)} == {"p1", "p3"}

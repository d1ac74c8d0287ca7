"""Writing systems (issue 28): one home for the scripts written without spaces, and the modules agree on it."""

from __future__ import annotations

import re

import pytest

from clir_rag import scripts
from clir_rag.chunk import Chunker, approximate_token_count, count_words
from clir_rag.chunk.chunker import CJK_CHARS_PER_WORD
from clir_rag.rag.check import answer_tokens
from clir_rag.store.analysis import get_analyzer
from clir_rag.train.lexicon import word_counts
from clir_rag.translate.base import join_sentences

pytestmark = pytest.mark.fast  # no LLM, server or index build: in the fast tier (make test-fast)

EXT_B = "\U00020000\U00020001\U00020002"  # 𠀀𠀁𠀂, CJK Extension B: outside the Basic Multilingual Plane


@pytest.mark.parametrize(
    ("char", "group"),
    [
        ("水", scripts.HAN_RANGES),
        ("\u3400", scripts.HAN_RANGES),  # Extension A
        ("\U00020000", scripts.HAN_RANGES),  # Extension B
        ("\U00031350", scripts.HAN_RANGES),  # Extension H
        ("\uf900", scripts.HAN_RANGES),  # a compatibility ideograph
        ("々", scripts.HAN_SIGN_RANGES),
        ("\u2f00", scripts.HAN_SIGN_RANGES),  # Kangxi radical one
        ("か", scripts.KANA_RANGES),
        ("カ", scripts.KANA_RANGES),
        ("\u31f0", scripts.KANA_RANGES),  # small katakana ku
        ("\U0001b001", scripts.KANA_RANGES),  # hentaigana
        ("ก", scripts.THAI_RANGES),
        ("ກ", scripts.LAO_RANGES),
        ("က", scripts.MYANMAR_RANGES),
        ("\uaa60", scripts.MYANMAR_RANGES),  # Myanmar Extended-A
        ("ក", scripts.KHMER_RANGES),
        ("，", scripts.CJK_PUNCTUATION_RANGES),
        ("。", scripts.CJK_PUNCTUATION_RANGES),
        ("한", scripts.HANGUL_SYLLABLE_RANGES),
    ],
)
def test_each_group_recognises_its_script(char: str, group: scripts.Ranges) -> None:
    assert scripts.in_ranges(char, group)
    assert re.fullmatch(f"[{scripts.char_class(group)}]", char)
    # every script group is written without spaces; punctuation and Hangul are not scripts written so
    no_space = group not in (scripts.CJK_PUNCTUATION_RANGES, scripts.HANGUL_SYLLABLE_RANGES)
    assert scripts.is_no_space_char(char) is no_space
    assert bool(re.fullmatch(f"[{scripts.NO_SPACE_CLASS}]", char)) is no_space


@pytest.mark.parametrize("char", ["a", "Z", "é", "ж", "Ж", "ب", "ع", "한", "ㄱ", "क", "ཀ", "1", " ", "。", "，", "Ａ"])
def test_latin_cyrillic_arabic_hangul_and_punctuation_are_not_no_space(char: str) -> None:
    assert not scripts.is_no_space_char(char)
    assert not re.fullmatch(f"[{scripts.NO_SPACE_CLASS}]", char)


def test_the_classes_and_the_predicate_agree_on_every_code_point() -> None:
    pattern = re.compile(f"[{scripts.NO_SPACE_CLASS}]")
    edges = {cp + d for lo, hi in scripts.NO_SPACE_RANGES for cp in (lo, hi) for d in (-1, 0, 1)}
    for cp in sorted(edges | set(range(0, 0x3100))):
        ch = chr(cp)
        assert bool(pattern.fullmatch(ch)) is scripts.is_no_space_char(ch), hex(cp)
        assert scripts.is_no_space_char(ch) is scripts.in_ranges(ch, scripts.NO_SPACE_RANGES), hex(cp)


def test_the_groups_add_up() -> None:
    assert scripts.NO_SPACE_RANGES == scripts.CJK_RANGES + scripts.SEA_RANGES
    assert scripts.NO_SPACE_LANGS == scripts.HAN_LANGS | scripts.SEA_LANGS
    assert not scripts.HAN_LANGS & scripts.SEA_LANGS
    assert "ko" not in scripts.NO_SPACE_LANGS  # Korean is written with spaces
    # Hangul is not in any no-space group
    assert not any(scripts.in_ranges("한", g) for g in (scripts.NO_SPACE_RANGES, scripts.CJK_PUNCTUATION_RANGES))


def test_merge_ranges_and_char_class() -> None:
    assert scripts.merge_ranges(((5, 9), (1, 3), (4, 4), (20, 30), (25, 26))) == ((1, 9), (20, 30))
    assert scripts.char_class(((0x41, 0x43), (0x20000, 0x20000))) == "\\u0041-\\u0043\\U00020000"


def test_the_modules_agree_on_an_extension_b_run() -> None:
    # The BM25 analyser: character bigrams, as for any Chinese run (it used to keep the run as one word)
    assert get_analyzer("zh")(EXT_B) == ["\U00020000\U00020001", "\U00020001\U00020002"]
    fr = get_analyzer("fr")  # in a stemmed language's text too, and the stemmer leaves the bigrams alone
    assert fr(f"rivière {EXT_B}") == [*fr("rivière"), "\U00020000\U00020001", "\U00020001\U00020002"]
    assert get_analyzer("zh")(f"中{EXT_B[0]}") == [f"中{EXT_B[0]}"]  # one run with the ideographs around it
    # The chunker: no-space text, one unit and one token per character, at Chinese's characters per word
    assert approximate_token_count(EXT_B) == 3
    assert count_words(EXT_B) == pytest.approx(3 / CJK_CHARS_PER_WORD)
    assert Chunker(8, 0).spans(EXT_B * 4) == [(0, 8), (8, 12)]
    # The answer check: one token per character
    assert answer_tokens(EXT_B) == list(EXT_B)
    # The lexicon: each character counts for Chinese, as Han characters do
    assert word_counts([f"水{EXT_B}"], "zh") == {"水": 1, **dict.fromkeys(EXT_B, 1)}


def test_the_modules_agree_on_the_language_codes() -> None:
    for code in scripts.NO_SPACE_LANGS:
        assert join_sentences(["a.", "b."], code) == "a.b."
        assert get_analyzer(code).bigrams
    for code in ("en", "ko", "ar", "ru"):
        assert join_sentences(["a.", "b."], code) == "a. b."
        assert not get_analyzer(code).bigrams


def test_punctuation_is_a_chunker_unit_but_no_bm25_term() -> None:
    # the chunker counts full-width punctuation as one unit each; the analyser does not index it
    assert approximate_token_count("，。") == 2
    assert get_analyzer("zh")("中文，日本語。") == ["中文", "日本", "本語"]
    assert answer_tokens("北京，") == ["北", "京"]

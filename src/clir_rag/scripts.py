"""Writing systems: which characters and which languages are written without spaces between words.

One home for a fact that several modules need and that used to be written out in each of them,
with ranges that had drifted apart (the answer check knew CJK Extensions B-H, the chunker and
the BM25 analyser did not):

* :mod:`clir_rag.chunk.chunker` cuts such text into one unit per character and counts its words
  at a per-script rate (:data:`CJK_RANGES`, :data:`SEA_RANGES`, plus :data:`CJK_PUNCTUATION_RANGES`);
* :mod:`clir_rag.store.analysis` indexes runs of it as character bigrams (:data:`NO_SPACE_CLASS`);
* :mod:`clir_rag.rag.check` makes each of its characters one answer token (:func:`is_no_space_char`)
  and weighs Han, kana and Hangul characters double when judging an answer's length;
* :mod:`clir_rag.translate.base` joins sentences without a space (:data:`NO_SPACE_LANGS`);
* :mod:`clir_rag.train.lexicon` keeps such runs out of its words and counts single Han characters
  (:data:`HAN_CLASS`, :data:`HAN_LANGS`, :data:`SEA_LANGS`).

Ranges are inclusive ``(first, last)`` code points, grouped by script; the groups are the union
of what those modules used, so each now sees every block the others knew. Korean is written with
spaces between words, so Hangul is *not* a no-space script here; its syllables are listed only
for their density (:data:`HANGUL_SYLLABLE_RANGES`).

This module imports nothing from the package, so any module may import it.
"""

from __future__ import annotations

import bisect

Ranges = tuple[tuple[int, int], ...]

# --- Chinese and Japanese ---------------------------------------------------------------------

# Han ideographs: the characters that are words or morphemes of their own (水, 山, 国), which the
# lexicon counts one by one for Chinese and Japanese. The supplementary planes hold rare but real
# characters of names and Cantonese (𠀀, 𡃁 in Extension B): without them a run of Chinese text
# broke at each such character.
HAN_RANGES: Ranges = (
    (0x3400, 0x4DBF),  # CJK Unified Ideographs Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0x20000, 0x323AF),  # Extensions B-H (and I), CJK Compatibility Ideographs Supplement
)
# Han-script characters that are written inside Chinese and Japanese text but are not ideographs
# (so not words of their own): radicals, which PDF extraction produces in place of the ideograph
# they look like (⺠ for 民), and the iteration mark 々, the closing mark 〆 and the ideographic
# zero 〇, which would otherwise cut a run in two (人々).
HAN_SIGN_RANGES: Ranges = (
    (0x2E80, 0x2FDF),  # CJK Radicals Supplement, Kangxi Radicals
    (0x3005, 0x3007),  # 々 〆 〇
)
# Japanese syllabaries, written without spaces among Han characters.
KANA_RANGES: Ranges = (
    (0x3040, 0x30FF),  # Hiragana, Katakana (with ー and the voicing marks)
    (0x31F0, 0x31FF),  # Katakana Phonetic Extensions (small ㇰ, ㇱ... of Ainu)
    (0x1B000, 0x1B16F),  # Kana Supplement, Kana Extended-A, Small Kana Extension
)
# Everything Chinese and Japanese write without spaces: the chunker counts these characters at
# Chinese's rate of characters per word.
CJK_RANGES: Ranges = HAN_RANGES + HAN_SIGN_RANGES + KANA_RANGES

# CJK punctuation and the full-width (and half-width) forms, which sit between CJK characters
# with no space either. A named subset because only the chunker wants them: it cuts and counts
# them one per character like the text around them (a sentence of full-width ，。「」 has no space
# to cut at). The BM25 analyser does not index punctuation, and applies NFKC first, which turns
# full-width forms into ASCII anyway; the answer check removes punctuation before it tokenises.
# The full-width block also holds full-width Latin letters (Ａ) and half-width katakana and Hangul.
CJK_PUNCTUATION_RANGES: Ranges = (
    (0x3000, 0x303F),  # CJK Symbols and Punctuation (ideographic space, 、。「」)
    (0xFF00, 0xFFEF),  # Halfwidth and Fullwidth Forms
)

# --- Mainland Southeast Asia ------------------------------------------------------------------

# Alphabets (abugidas) written without spaces between words, only between phrases. Unlike Han,
# a single letter is no word, so these need a word segmenter, and a word is several letters
# (the chunker counts them at Thai's rate). Each block is whole: vowel signs and tone marks
# (combining marks) and the scripts' own digits and punctuation (๑, ฯ, ၊) are in it.
THAI_RANGES: Ranges = ((0x0E00, 0x0E7F),)
LAO_RANGES: Ranges = ((0x0E80, 0x0EFF),)
MYANMAR_RANGES: Ranges = (
    (0x1000, 0x109F),  # Myanmar
    (0xA9E0, 0xA9FF),  # Myanmar Extended-B (Shan Pali, Tai Laing)
    (0xAA60, 0xAA7F),  # Myanmar Extended-A (Khamti Shan, Aiton, Phake)
)
KHMER_RANGES: Ranges = (
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer Symbols (lunar dates)
)
SEA_RANGES: Ranges = THAI_RANGES + LAO_RANGES + MYANMAR_RANGES + KHMER_RANGES

# --- Everything written without spaces --------------------------------------------------------

NO_SPACE_RANGES: Ranges = CJK_RANGES + SEA_RANGES

# Hangul syllables. Korean IS written with spaces between words, so they are in no set above;
# they are here for what they share with Han and kana: one character carries a syllable, about
# as much as two Latin letters (the answer check weighs them so when judging an answer's length).
HANGUL_SYLLABLE_RANGES: Ranges = ((0xAC00, 0xD7AF),)

# --- Languages --------------------------------------------------------------------------------

# Canonical codes (as clir_rag.languages.normalize_language gives them) of languages written in
# Han and kana: without a segmenter their single Han characters stand in for words.
HAN_LANGS: frozenset[str] = frozenset({"zh", "yue", "ja"})
# Thai, Lao, Khmer and Burmese: a letter is no word, so words need a segmenter.
SEA_LANGS: frozenset[str] = frozenset({"th", "lo", "km", "my"})
# Languages written without spaces between words: sentences join without a space, BM25 indexes
# their text as character bigrams.
NO_SPACE_LANGS: frozenset[str] = HAN_LANGS | SEA_LANGS


def merge_ranges(ranges: Ranges) -> Ranges:
    """``ranges`` sorted, with overlapping and touching ranges merged into one."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _escape(cp: int) -> str:
    # \u / \U escapes, not the characters themselves: a pattern stays readable in an error message
    # and in a debugger, and a combining mark cannot fuse with the bracket or dash before it.
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


def char_class(ranges: Ranges) -> str:
    """The body of a regex character class matching ``ranges`` (no brackets: ``f"[{char_class(r)}]"``).

    Being a body, it can be combined with others inside one class (``[^\\s{A}{B}]``).
    """
    return "".join(_escape(lo) if lo == hi else f"{_escape(lo)}-{_escape(hi)}" for lo, hi in merge_ranges(ranges))


def in_ranges(ch: str, ranges: Ranges) -> bool:
    """Whether the single character ``ch`` lies in one of ``ranges``."""
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in ranges)


# Regex character-class bodies (see char_class) of the groups above.
NO_SPACE_CLASS = char_class(NO_SPACE_RANGES)
HAN_CLASS = char_class(HAN_RANGES)
CJK_CLASS = char_class(CJK_RANGES)
SEA_CLASS = char_class(SEA_RANGES)
CJK_PUNCTUATION_CLASS = char_class(CJK_PUNCTUATION_RANGES)

_NO_SPACE_MERGED = merge_ranges(NO_SPACE_RANGES)
_NO_SPACE_FIRSTS = [lo for lo, _ in _NO_SPACE_MERGED]


def is_no_space_char(ch: str) -> bool:
    """Whether the single character ``ch`` belongs to a script written without spaces (:data:`NO_SPACE_RANGES`).

    Digits and punctuation of those blocks (Thai ๑, ฯ) count; callers that want them apart
    test :func:`unicodedata.category` as well. CJK punctuation does not count (see
    :data:`CJK_PUNCTUATION_RANGES`), nor does Hangul.
    """
    cp = ord(ch)
    i = bisect.bisect_right(_NO_SPACE_FIRSTS, cp) - 1
    return i >= 0 and cp <= _NO_SPACE_MERGED[i][1]

"""Words as the lexicon tools see them: the word pattern, a lexicon's lookup key, and the vocabulary of texts.

Words are what :func:`word_pattern` finds: a letter followed by letters and combining marks
(so Devanagari vowel signs stay inside their word, which Python's ``\\w`` does not do), with
internal apostrophes (``don't``); digits and punctuation are never part of a word, and
a token mixing letters with digits (``x2``, ``2nd``) is none. Scripts
written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Burmese) form runs of their own
that are not split any further: clir-rag has no word segmenter for them (BM25 uses character
bigrams, see :mod:`clir_rag.store.analysis`), so :func:`vocabulary` takes a ``segment``
function for them, falls back to single Han characters for Chinese and Japanese, and refuses
Thai, Lao, Khmer and Burmese rather than pass off letters as words.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache

from clir_rag import scripts
from clir_rag.errors import InputError
from clir_rag.languages import normalize_language

# Runs of scripts written without spaces (clir_rag.scripts) are kept apart from words (group ns).
_NO_SPACE = scripts.NO_SPACE_CLASS
# The characters that stand in for words of Chinese and Japanese when there is no segmenter.
_HAN = re.compile(f"[{scripts.HAN_CLASS}]")


@lru_cache(maxsize=1)
def word_pattern() -> re.Pattern[str]:
    """The regex of a word (see the module docstring); group ``ns`` is a run of a no-space script.

    A word touching a digit or an underscore (``x2``, ``2nd``) does not match at all.
    Built once from the Unicode tables (about 0.1 s), since ``re`` has no ``\\p{L}``.
    """
    letters: list[tuple[int, int]] = []
    marks: list[tuple[int, int]] = []
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat[0] not in "LM" or scripts.is_no_space_char(ch):
            continue
        ranges = letters if cat[0] == "L" else marks
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    letter, mark = scripts.char_class(tuple(letters)), scripts.char_class(tuple(marks))
    word = f"[{letter}][{letter}{mark}]*"
    # A word touching a digit or underscore (x2, B52, 2nd, snake_case) is no word at all, not a shorter one.
    edge = f"[{letter}{mark}\\d_]"
    return re.compile(f"(?P<ns>[{_NO_SPACE}]+)|(?<!{edge})(?P<w>{word}(?:['\u2019]{word})*)(?!{edge})")


def normalize_word(word: str) -> str:
    """A lexicon's lookup key: NFC, lower-cased (``lower``, not ``casefold``: ß stays ß)."""
    return unicodedata.normalize("NFC", word).lower()


def unique_words(words: Iterable[str]) -> list[str]:
    """``words`` as lookup keys (:func:`normalize_word`), blanks dropped, each once, in first-seen order."""
    return list(dict.fromkeys(normalize_word(w) for w in words if w.strip()))


def word_counts(texts: Iterable[str], lang: str, segment: Callable[[str], Iterable[str]] | None = None) -> Counter[str]:
    """How often each lower-cased word occurs in ``texts`` (the words :func:`vocabulary` ranks; see there)."""
    code = normalize_language(lang)
    if segment is None and code in scripts.SEA_LANGS:
        raise InputError(
            f"vocabulary: {code} is written without spaces and clir-rag has no word segmenter for it: pass segment=..."
        )
    pattern = word_pattern()
    counts: Counter[str] = Counter()
    for text in texts:
        text = unicodedata.normalize("NFC", text)
        if segment is not None:
            for piece in segment(text):
                m = pattern.fullmatch(piece.strip())
                if m:
                    counts[m.group().lower()] += 1
            continue
        for m in pattern.finditer(text):
            if code in scripts.HAN_LANGS:
                if m.group("ns"):
                    counts.update(_HAN.findall(m.group()))
            elif m.group("w"):
                counts[m.group().lower()] += 1
    return counts


def vocabulary(
    texts: Iterable[str],
    lang: str,
    max_words: int | None = 20000,
    min_count: int = 1,
    segment: Callable[[str], Iterable[str]] | None = None,
) -> list[str]:
    """The words of ``texts``, lower-cased, most frequent first (ties alphabetically), at most ``max_words``.

    Only letters count (see :func:`word_pattern`): numbers, punctuation and mixed tokens
    such as ``x2`` give no words. ``segment`` splits a text into words for scripts written
    without spaces; only the pieces that are whole words under :func:`word_pattern` are kept.
    Without one, Chinese and Japanese contribute single Han characters only (each a morpheme,
    many a word: 水, 山, 国; kana runs are dropped, and so are Latin-script words, foreign names
    in these texts), and Thai, Lao, Khmer and Burmese raise :class:`InputError`, since no
    segmenter ships with clir-rag.
    """
    counts = word_counts(texts, lang, segment)
    ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return ranked if max_words is None else ranked[:max_words]

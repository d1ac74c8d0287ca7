"""Token- or word-window chunking with overlap, keeping character offsets.

Text is cut into units (a word with its trailing space, or a single
character with its combining marks in scripts written without spaces: CJK,
Thai, Lao, Khmer, Burmese). A passage is a run of whole units whose text the encoder's own
tokenizer counts at most ``max_tokens`` tokens; window ends are found from a
guess (per-unit counts, summed) by galloping and bisecting, so no count
covers much more than a window and chunking is linear in the length of the
document. Counting whole windows (not summing
per-word counts) stays exact for scripts without spaces, where a lone
character costs an extra word-boundary token that it does not cost inside
a sentence. Cutting at unit boundaries keeps exact character offsets.

Windows are measured in tokens (the default) or in words (``unit="words"``,
for document-level MaxP indexes: evals/document_windows.md). A word-sized
window is also held to the encoder's input limit, so a token-dense stretch
(an option list, a table of numbers) grows up to what the encoder reads and
no further.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import Literal

from clir_rag import scripts
from clir_rag.errors import InputError
from clir_rag.types import Document, Passage

TokenCounter = Callable[[str], int]

# Scripts written without spaces between words (clir_rag.scripts), and the CJK punctuation and
# full-width forms between their characters: one unit per character.
_NO_SPACE = scripts.char_class(scripts.NO_SPACE_RANGES + scripts.CJK_PUNCTUATION_RANGES)
# Combining marks (Thai vowels and tones, Khmer and Myanmar signs...) stay with the character
# they sit on: a passage never starts or ends inside a written syllable.
_MARKS = "".join(
    re.escape(chr(c))
    for lo, hi in (
        (0x0300, 0x036F),  # combining diacritics
        *scripts.SEA_RANGES,
        (0x3099, 0x309A),  # combining kana voicing marks
        (0xFE00, 0xFE0F),  # variation selectors
    )
    for c in range(lo, hi + 1)
    if unicodedata.category(chr(c)).startswith("M")
)
_UNIT = re.compile(rf"[{_NO_SPACE}][{_MARKS}]*\s*|[^\s{_NO_SPACE}]+\s*")
_NO_SPACE_CHAR = re.compile(rf"[{_NO_SPACE}]")
_WORD = re.compile(rf"[^\s{_NO_SPACE}]+")
_CJK_CHAR = re.compile(f"[{scripts.char_class(scripts.CJK_RANGES + scripts.CJK_PUNCTUATION_RANGES)}]")
_SEA_CHAR = re.compile(rf"(?![{_MARKS}])[{scripts.SEA_CLASS}]")
# Characters that make one word in scripts written without spaces, so that a window of n words holds
# about as much text in every language: XQuAD's parallel paragraphs have 1.87 Chinese characters and
# 4.68 Thai letters (combining marks not counted) per English word. Lao, Khmer and Burmese take Thai's
# figure and Japanese kana take Chinese's, unmeasured.
CJK_CHARS_PER_WORD = 1.87
SEA_LETTERS_PER_WORD = 4.68


def approximate_token_count(text: str) -> int:
    """Subword-token estimate for encoders without a tokenizer to ask.

    About one token per character in scripts without spaces and one per four
    characters of a word elsewhere, which is close for multilingual SentencePiece vocabularies.
    """
    return len(_NO_SPACE_CHAR.findall(text)) + sum(-(-len(w) // 4) for w in _WORD.findall(text))


def count_words(text: str) -> float:
    """Words in ``text``: whitespace-separated words, plus characters of scripts without spaces at
    :data:`CJK_CHARS_PER_WORD` (Chinese, Japanese) or :data:`SEA_LETTERS_PER_WORD` (Thai, Lao, Khmer,
    Burmese) per word."""
    return (
        len(_WORD.findall(text))
        + len(_CJK_CHAR.findall(text)) / CJK_CHARS_PER_WORD
        + len(_SEA_CHAR.findall(text)) / SEA_LETTERS_PER_WORD
    )


PassageUnit = Literal["tokens", "words"]
PASSAGE_UNITS: tuple[str, ...] = ("tokens", "words")

# The chunking defaults, stated once: the Chunker, a new index and the YAML configs take them from here.
DEFAULT_MAX_TOKENS = 256
DEFAULT_OVERLAP = 32
# Word windows: what document-level MaxP ranked best on long documents (evals/document_windows.md).
DEFAULT_MAX_WORDS = 120
DEFAULT_WORD_OVERLAP = 20


class Chunker:
    """Split documents into passages of at most ``max_tokens`` tokens, ``overlap`` tokens shared.

    With ``unit="words"``, ``max_tokens`` and ``overlap`` count words (:func:`count_words`)
    instead, and ``token_limit`` (the encoder's input limit, if given) caps a window's tokens
    too: a window of 120 words ends early where 120 words would run past it.

    A document that fits is one passage. A single unit longer than the window (a long
    URL, a run of text without spaces) is cut at the limit into passages of its
    own; :attr:`cut_units` counts such units, so that callers can warn.
    """

    def __init__(
        self,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        overlap: int = DEFAULT_OVERLAP,
        token_counter: TokenCounter | None = None,
        *,
        unit: PassageUnit = "tokens",
        token_limit: int | None = None,
    ) -> None:
        if unit not in PASSAGE_UNITS:
            raise InputError(f"passage unit must be one of {', '.join(PASSAGE_UNITS)}, got {unit!r}")
        if max_tokens < 8:
            raise InputError(f"max_tokens must be at least 8 {unit}, got {max_tokens}")
        if not 0 <= overlap <= max_tokens // 2:
            raise InputError(f"overlap must be in [0, max_tokens/2], got {overlap} for max_tokens={max_tokens} {unit}")
        self.max_tokens = max_tokens
        self.overlap = overlap
        self.unit: PassageUnit = unit
        tokens = token_counter or approximate_token_count
        self.count: TokenCounter = tokens
        if unit == "words":
            self.count = functools.partial(_capped_words, tokens, max_tokens / token_limit if token_limit else 0.0)
        self.cut_units = 0  # units longer than max_tokens, cut at the limit (over this chunker's life)

    def estimate_passages(self, text: str) -> int:
        """About how many passages ``text`` makes, from its length alone (for sizing shards and blocks)."""
        size = count_words(text) if self.unit == "words" else approximate_token_count(text)
        return 1 + int(size) // max(1, self.max_tokens - self.overlap)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans ``(start, end)`` of the passages of ``text``, trailing spaces excluded.

        Linear in the length of ``text``. Each unit is counted once on its own; the sums of those
        counts, scaled by how far off they were for the previous window, place a first guess at
        each window end, and exact counts of the window's text gallop and bisect from there.
        Typically two or three counts per window, none longer than about two windows.
        """
        units = [(m.start(), len(m.group().rstrip()) + m.start()) for m in _UNIT.finditer(text)]
        n = len(units)
        if n == 0:
            return []
        unit_cost: dict[str, int] = {}  # words repeat: each distinct one is counted once
        for s, e in units:
            if text[s:e] not in unit_cost:
                unit_cost[text[s:e]] = max(1, self.count(text[s:e]))
        prefix = [0, *itertools.accumulate(unit_cost[text[s:e]] for s, e in units)]
        counted: dict[tuple[int, int], int] = {}

        def cost(i: int, j: int) -> int:  # tokens of units[i:j]
            if (i, j) not in counted:
                counted[(i, j)] = self.count(text[units[i][0] : units[j - 1][1]])
            return counted[(i, j)]

        spans: list[tuple[int, int]] = []
        ratio = 1.0  # exact count / summed unit counts, as last seen: <1 where units merge (CJK)
        i = 0
        while i < n:
            # largest j in (i, n] with units[i:j] fitting; at least one unit
            guess = bisect.bisect_right(prefix, prefix[i] + self.max_tokens / ratio) - 1
            for _ in range(3):  # secant steps: re-scale by the ratio just measured on this window
                guess = min(max(guess, i + 1), n)
                got = cost(i, guess)
                if got == self.max_tokens or prefix[guess] == prefix[i]:
                    break
                step = bisect.bisect_right(prefix, prefix[i] + self.max_tokens * (prefix[guess] - prefix[i]) / got) - 1
                if step == guess or (step > guess and guess == n):
                    break
                guess = step
            j = _last_true(functools.partial(_fits, cost, i, self.max_tokens), i + 1, n, guess)
            if j == i + 1 and cost(i, j) > self.max_tokens:
                # one unit longer than the window: cut it, or the encoder would silently drop its tail
                self.cut_units += 1
                spans.extend(self._cut(text, *units[i]))
                counted.clear()
                i = j
                continue
            spans.append((units[i][0], units[j - 1][1]))
            if j >= n:
                break
            if (i, j) in counted and prefix[j] > prefix[i]:
                ratio = max(counted[(i, j)], 1) / (prefix[j] - prefix[i])
            # next window starts at the smallest k in (i, j] whose tail units[k:j] fits in ``overlap``
            k = j
            # no overlap before a unit that is cut on its own: the next window would repeat this one's tail
            if self.overlap and cost(j, j + 1) <= self.max_tokens:
                guess = j - bisect.bisect_left(prefix, prefix[j] - self.overlap / ratio)
                k = j - _last_true(functools.partial(_tail_fits, cost, j, self.overlap), 0, j - i - 1, guess)
            counted.clear()
            i = k
        return spans

    def _cut(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """Spans of at most ``max_tokens`` tokens covering ``text[start:end]``, cut between characters.

        Combining marks stay with their base character. Each piece is found by galloping
        over its own length, so a unit of any size costs time linear in its length.
        """
        pieces: list[tuple[int, int]] = []
        s = start
        guess = max(1, self.max_tokens)  # at least a character per token
        while s < end:
            # candidate ends, never before a combining mark; 16 characters per token bounds the piece
            limit = min(end, s + 16 * self.max_tokens)
            stops = [k for k in range(s + 1, limit + 1) if k == end or not _is_mark(text[k])]

            def fits(m: int, s: int = s, stops: list[int] = stops) -> bool:
                return self.count(text[s : stops[m]]) <= self.max_tokens

            m = _last_true(fits, 0, len(stops) - 1, min(guess, len(stops) - 1))
            if not fits(m):  # a single character over the limit (cannot happen with real tokenizers)
                m = 0
            e = stops[m]
            pieces.append((s, e))
            guess = m
            s = e
        return pieces

    def chunk(self, doc: Document, lang: str | None = None) -> list[Passage]:
        """Passages of one document; ``lang`` overrides ``doc.lang`` (e.g. after detection).

        A titled document without text is one empty passage, so that its title is indexed.
        """
        language = lang or doc.lang
        if language is None:
            raise InputError(f"document {doc.id!r} has no language; detect or set it before chunking")
        spans = self.spans(doc.text) or ([(0, 0)] if (doc.title or "").strip() else [])
        return [
            Passage(
                id=f"{doc.id}#{i}",
                doc_id=doc.id,
                text=doc.text[s:e],
                lang=language,
                index=i,
                start=s,
                end=e,
                title=doc.title,
                metadata=dict(doc.metadata),
            )
            for i, (s, e) in enumerate(spans)
        ]

    def chunk_all(self, docs: Iterable[Document]) -> Iterator[Passage]:
        """The passages of every document in ``docs``, document by document (see :meth:`chunk`)."""
        for doc in docs:
            yield from self.chunk(doc)


def truncate_to_tokens(text: str, max_tokens: int, count: TokenCounter) -> str:
    """The longest prefix of whole units of ``text`` that counts at most ``max_tokens`` tokens.

    Counts only prefixes up to about twice the answer, so a long text costs no more than a short one.
    """
    if max_tokens <= 0:
        return ""
    ends = [m.start() + len(m.group().rstrip()) for m in _UNIT.finditer(text)]
    if not ends:
        return text if count(text) <= max_tokens else ""
    kept = _last_true(lambda j: count(text[: ends[j - 1]]) <= max_tokens, 0, len(ends), min(len(ends), max_tokens))
    return text if kept == len(ends) else text[: ends[kept - 1]] if kept else ""


def _is_mark(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


def _capped_words(tokens: TokenCounter, words_per_token: float, text: str) -> int:
    """Words of ``text``, or its tokens in words' stead where they would pass the encoder's limit."""
    words = math.ceil(count_words(text))
    return max(words, math.ceil(tokens(text) * words_per_token)) if words_per_token else words


def _last_true(ok: Callable[[int], bool], lo: int, hi: int, guess: int) -> int:
    """The largest ``x`` in ``[lo, hi]`` with ``ok(x)``, for ``ok`` true up to some point and false after.

    ``ok(lo)`` is taken as true without asking. Gallops from ``guess`` (doubling the step) to bracket
    the answer, then bisects, so it asks about O(log distance) values near the answer and none far beyond it.
    """
    guess = min(max(guess, lo), hi)
    if guess > lo and not ok(guess):
        bad, good, step = guess, lo, 1
        while guess - step > lo:  # gallop down
            if ok(guess - step):
                good = guess - step
                break
            bad = guess - step
            step *= 2
    else:
        good, bad, step = guess, hi + 1, 1
        while good + step <= hi:  # gallop up
            if not ok(good + step):
                bad = good + step
                break
            good += step
            step *= 2
    while bad - good > 1:  # ok(good), not ok(bad)
        mid = (good + bad) // 2
        if ok(mid):
            good = mid
        else:
            bad = mid
    return good


def _fits(cost: Callable[[int, int], int], i: int, budget: int, j: int) -> bool:
    """Units ``i..j`` fit ``budget`` tokens."""
    return cost(i, j) <= budget


def _tail_fits(cost: Callable[[int, int], int], j: int, budget: int, t: int) -> bool:
    """The last ``t`` units before ``j`` fit ``budget`` tokens."""
    return cost(j - t, j) <= budget

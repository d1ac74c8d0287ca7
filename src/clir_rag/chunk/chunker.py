"""Token-window chunking with overlap, keeping character offsets.

Text is cut into units (a word with its trailing space, or a single
character in scripts written without spaces: CJK, Thai, Lao, Khmer,
Burmese). A passage is a run of whole units whose text the encoder's own
tokenizer counts at most ``max_tokens`` tokens; window ends are found by
binary search over unit boundaries. Counting whole windows (not summing
per-word counts) stays exact for scripts without spaces, where a lone
character costs an extra word-boundary token that it does not cost inside
a sentence. Cutting at unit boundaries keeps exact character offsets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from clir_rag.types import Document, Passage

TokenCounter = Callable[[str], int]

# Scripts written without spaces between words: one unit per character.
_NO_SPACE = (
    "\u0e00-\u0e7f"  # Thai
    "\u0e80-\u0eff"  # Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    "\u3000-\u303f\uff00-\uffef"  # CJK punctuation, full-width forms
)
_UNIT = re.compile(rf"[{_NO_SPACE}]\s*|[^\s{_NO_SPACE}]+\s*")
_NO_SPACE_CHAR = re.compile(rf"[{_NO_SPACE}]")
_WORD = re.compile(rf"[^\s{_NO_SPACE}]+")


def approximate_token_count(text: str) -> int:
    """Subword-token estimate for encoders without a tokenizer to ask.

    About one token per character in scripts without spaces and one per four
    characters of a word elsewhere, which is close for multilingual SentencePiece vocabularies.
    """
    return len(_NO_SPACE_CHAR.findall(text)) + sum(-(-len(w) // 4) for w in _WORD.findall(text))


class Chunker:
    """Split documents into passages of at most ``max_tokens`` tokens, ``overlap`` tokens shared.

    A document that fits is one passage. A single unit longer than the window
    (a long URL, say) becomes a passage of its own rather than being cut.
    """

    def __init__(
        self,
        max_tokens: int = 256,
        overlap: int = 32,
        token_counter: TokenCounter | None = None,
    ) -> None:
        if max_tokens < 8:
            raise ValueError(f"max_tokens must be at least 8, got {max_tokens}")
        if not 0 <= overlap <= max_tokens // 2:
            raise ValueError(f"overlap must be in [0, max_tokens/2], got {overlap} for max_tokens={max_tokens}")
        self.max_tokens = max_tokens
        self.overlap = overlap
        self.count = token_counter or approximate_token_count

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans ``(start, end)`` of the passages of ``text``, trailing spaces excluded."""
        units = [(m.start(), len(m.group().rstrip()) + m.start()) for m in _UNIT.finditer(text)]
        n = len(units)
        if n == 0:
            return []

        def cost(i: int, j: int) -> int:  # tokens of units[i:j]
            return self.count(text[units[i][0] : units[j - 1][1]])

        spans: list[tuple[int, int]] = []
        i = 0
        while i < n:
            if cost(i, n) <= self.max_tokens:
                j = n
            else:  # largest j with units[i:j] fitting; at least one unit
                lo, hi = i + 1, n - 1
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    if cost(i, mid) <= self.max_tokens:
                        lo = mid
                    else:
                        hi = mid - 1
                j = lo
            spans.append((units[i][0], units[j - 1][1]))
            if j >= n:
                break
            # Next window starts at the smallest k whose tail units[k:j] fits in ``overlap``.
            k = j
            if self.overlap:
                lo, hi = i + 1, j
                while lo < hi:
                    mid = (lo + hi) // 2
                    if cost(mid, j) <= self.overlap:
                        hi = mid
                    else:
                        lo = mid + 1
                k = lo
            i = k
        return spans

    def chunk(self, doc: Document, lang: str | None = None) -> list[Passage]:
        """Passages of one document; ``lang`` overrides ``doc.lang`` (e.g. after detection)."""
        language = lang or doc.lang
        if language is None:
            raise ValueError(f"document {doc.id!r} has no language; detect or set it before chunking")
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
            for i, (s, e) in enumerate(self.spans(doc.text))
        ]

    def chunk_all(self, docs: Iterable[Document]) -> Iterator[Passage]:
        for doc in docs:
            yield from self.chunk(doc)


def truncate_to_tokens(text: str, max_tokens: int, count: TokenCounter) -> str:
    """The longest prefix of whole units of ``text`` that counts at most ``max_tokens`` tokens."""
    if max_tokens <= 0:
        return ""
    if count(text) <= max_tokens:
        return text
    ends = [m.start() + len(m.group().rstrip()) for m in _UNIT.finditer(text)]
    lo, hi = 0, len(ends)  # number of units kept
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[: ends[mid - 1]]) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return text[: ends[lo - 1]] if lo else ""

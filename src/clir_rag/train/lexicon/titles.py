"""A lexicon read off aligned titles (Wikipedia interlanguage links, say): pairs of one-word titles."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from clir_rag.errors import InputError
from clir_rag.train.lexicon.base import Lexicon
from clir_rag.train.lexicon.words import word_pattern


def _title_words(title: str) -> list[str] | None:
    """The words of a title, or None when it holds anything else (digits, punctuation)."""
    pattern = word_pattern()
    pieces = title.replace("_", " ").split()
    return [p.lower() for p in pieces] if pieces and all(pattern.fullmatch(p) for p in pieces) else None


def _read_title_pairs(path: Path) -> Iterator[tuple[str, str]]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read the titles: {e.strerror or e}") from e
    for no, line in enumerate(raw.splitlines(), start=1):
        try:
            text = unicodedata.normalize("NFC", line.decode("utf-8")).lstrip("\ufeff")
        except UnicodeDecodeError as e:
            raise InputError(f"{path}:{no}: not UTF-8 (byte {e.start})") from None
        if not text.strip():
            continue
        fields = text.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise InputError(f"{path}:{no}: expected 'source_title<TAB>target_title', got {len(fields)} field(s)")
        yield fields[0], fields[1]


def from_parallel_titles(
    titles: str | Path | Iterable[tuple[str, str]],
    src: str,
    tgt: str,
    align_equal_length: bool = False,
) -> Lexicon:
    """A lexicon from aligned titles (Wikipedia interlanguage links, say): a TSV file or (source, target) pairs.

    The rule: a pair of titles that are each a single word (letters only; ``_`` counts as a
    space, as in Wikipedia page names) gives the pair of words, lower-cased. Titles of several
    words are skipped, since word order and compounding differ between languages (``New York``
    / ``纽约``, ``Eiffel Tower`` / ``Eiffelturm``): aligning them position by position is too noisy.
    ``align_equal_length=True`` pairs the words of two titles with as many words position by
    position anyway. Titles holding digits or punctuation are always skipped. A word's
    translations are ordered by how many title pairs give them, then by first appearance.
    """
    pairs = _read_title_pairs(Path(titles)) if isinstance(titles, str | Path) else titles
    counts: Counter[tuple[str, str]] = Counter()
    for s_title, t_title in pairs:
        s_ws, t_ws = (
            _title_words(unicodedata.normalize("NFC", s_title)),
            _title_words(unicodedata.normalize("NFC", t_title)),
        )
        if s_ws is None or t_ws is None or len(s_ws) != len(t_ws):
            continue
        if len(s_ws) == 1 or align_equal_length:
            counts.update(zip(s_ws, t_ws, strict=True))
    # Counter keeps first-seen order, and sort() is stable: ties stay in order of appearance.
    by_word: dict[str, list[str]] = {}
    for w, t in counts:
        by_word.setdefault(w, []).append(t)
    lex = Lexicon(src, tgt)
    for w, ts in by_word.items():
        for t in sorted(ts, key=lambda t: -counts[(w, t)]):
            lex.add(w, t)
    return lex

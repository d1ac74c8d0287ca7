"""The :class:`Lexicon` type (source words and their translations, best first) and its MUSE file format.

MUSE (Conneau et al. 2018): ``source target`` per line, one pair per line; a source word may
have several lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from clir_rag.errors import InputError
from clir_rag.languages import normalize_language
from clir_rag.train.lexicon.words import normalize_word


class Lexicon:
    """Source-language words and their translations into a target language, best first.

    Lookup is case-insensitive (keys are :func:`normalize_word`); translations are kept as
    given. ``len()`` counts source words; :attr:`n_pairs` counts word pairs.
    """

    def __init__(
        self,
        src: str,
        tgt: str,
        entries: Mapping[str, Iterable[str]] | Iterable[tuple[str, str]] = (),
    ) -> None:
        self.src, self.tgt = normalize_language(src), normalize_language(tgt)
        self._map: dict[str, list[str]] = {}
        pairs = ((w, t) for w, ts in entries.items() for t in ts) if isinstance(entries, Mapping) else entries
        for word, translation in pairs:
            self.add(word, translation)

    def add(self, word: str, translation: str) -> None:
        """Add ``translation`` after the word's existing ones (a repeated pair is ignored)."""
        for what, w in (("word", word), ("translation", translation)):
            if not w or any(c.isspace() for c in w):
                raise InputError(f"lexicon {self.src}-{self.tgt}: {what} {w!r} is empty or contains whitespace")
        ts = self._map.setdefault(normalize_word(word), [])
        if translation not in ts:
            ts.append(translation)

    def __len__(self) -> int:
        return len(self._map)

    @property
    def n_pairs(self) -> int:
        """The number of (word, translation) pairs."""
        return sum(len(ts) for ts in self._map.values())

    def covers(self, word: str) -> bool:
        """Whether ``word`` (any case) has a translation."""
        return normalize_word(word) in self._map

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.covers(word)

    def translations(self, word: str) -> list[str]:
        """The translations of ``word``, best first; empty when it is not covered."""
        return list(self._map.get(normalize_word(word), ()))

    def __getitem__(self, word: str) -> list[str]:
        ts = self._map.get(normalize_word(word))
        if ts is None:
            raise KeyError(word)
        return list(ts)

    def best(self, word: str) -> str | None:
        """The first translation of ``word``, or None."""
        ts = self._map.get(normalize_word(word))
        return ts[0] if ts else None

    def words(self) -> list[str]:
        """The source words (lookup keys), in insertion order."""
        return list(self._map)

    def pairs(self) -> Iterator[tuple[str, str]]:
        """Every (word, translation) pair, words in insertion order, translations best first."""
        for word, ts in self._map.items():
            for t in ts:
                yield word, t

    def subset(self, words: Iterable[str]) -> Lexicon:
        """The entries of ``words`` (those covered), in this lexicon's order."""
        keep = {normalize_word(w) for w in words}
        return Lexicon(self.src, self.tgt, {w: ts for w, ts in self._map.items() if w in keep})

    def split(self, held_out: float, seed: int = 0) -> tuple[Lexicon, Lexicon]:
        """``(rest, held)``: a random ``held_out`` fraction of the source words (all their translations) in ``held``."""
        if not 0.0 <= held_out <= 1.0:
            raise InputError(f"held_out must be a fraction in [0, 1], got {held_out}")
        words = sorted(self._map)  # sorted first, so the split depends on the words, not on insertion order
        order = np.random.default_rng(seed).permutation(len(words))
        n = round(held_out * len(words))
        held = {words[i] for i in order[:n]}
        return self.subset(w for w in words if w not in held), self.subset(held)

    def save(self, path: str | Path) -> None:
        """Write the lexicon in the MUSE format: ``word translation`` per line, UTF-8."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="\n") as f:
            for word, t in self.pairs():
                f.write(f"{word} {t}\n")

    @classmethod
    def load(cls, path: str | Path, src: str, tgt: str) -> Lexicon:
        """See :func:`read_muse`."""
        return read_muse(path, src, tgt)

    def __repr__(self) -> str:
        return f"Lexicon({self.src}->{self.tgt}, {len(self)} words, {self.n_pairs} pairs)"


def read_muse(path: str | Path, src: str, tgt: str) -> Lexicon:
    """A lexicon from a MUSE-format file (``source target`` per line, whitespace-separated).

    Blank lines are skipped; any other line that is not two words raises :class:`InputError`
    naming ``file:line``. Lines of the same source word add translations in file order.
    """
    path = Path(path)
    lex = Lexicon(src, tgt)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read the lexicon: {e.strerror or e}") from e
    for no, line in enumerate(raw.splitlines(), start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{path}:{no}: not UTF-8 (byte {e.start})") from None
        fields = text.lstrip("\ufeff").split()
        if not fields:
            continue
        if len(fields) != 2:
            raise InputError(f"{path}:{no}: expected 'source target' (2 whitespace-separated words), got {len(fields)}")
        lex.add(fields[0], fields[1])
    if not len(lex):
        raise InputError(f"{path}: no word pairs")
    return lex

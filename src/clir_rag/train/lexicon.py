"""Bilingual lexicons for artificial code-switching: read, write, induce and score them.

A :class:`Lexicon` maps source-language words to their translations, best first. It is read
from and written to the MUSE format (Conneau et al. 2018: ``source target`` per line, one pair
per line, a source word may have several lines), built from parallel titles
(:func:`from_parallel_titles`), or induced from an encoder's embeddings of two word lists
(:func:`induce_lexicon`): mutual nearest neighbours under CSLS, which discounts "hub" words
that are close to everything. :func:`precision_at_1` scores an induced lexicon against a
held-out slice of a given one.

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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np

from clir_rag import scripts
from clir_rag.embed.base import Encoder, l2_normalize
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


def embed_words(
    encoder: Encoder, words: Sequence[str], as_: Literal["query", "passage"] = "query", batch_size: int = 256
) -> np.ndarray:
    """Unit-length embeddings of bare words, ``batch_size`` per encoder call (float32, one row per word)."""
    encode = encoder.encode_queries if as_ == "query" else encoder.encode_passages
    out = np.zeros((len(words), encoder.dim), dtype=np.float32)
    for i in range(0, len(words), batch_size):
        out[i : i + batch_size] = encode(list(words[i : i + batch_size]))
    return l2_normalize(out)


class CslsNeighbours(NamedTuple):
    """What :func:`csls_neighbours` finds.

    ``targets[i]``: the ``top_n`` target rows best for source row i, best first, with their
    ``scores``; ``reverse[j]``: the source row best for target row j (under the same score).
    """

    targets: np.ndarray
    scores: np.ndarray
    reverse: np.ndarray


def _mean_top_k(a: np.ndarray, b: np.ndarray, k: int, block: int) -> np.ndarray:
    """For each row of ``a``, the mean cosine to its ``k`` nearest rows of ``b`` (CSLS's r)."""
    out = np.zeros(len(a), dtype=np.float32)
    k = min(k, len(b))
    if k <= 0:
        return out
    for i in range(0, len(a), block):
        sims = a[i : i + block] @ b.T
        out[i : i + block] = np.partition(sims, len(b) - k, axis=1)[:, len(b) - k :].mean(axis=1)
    return out


def csls_neighbours(
    src_vecs: np.ndarray,
    tgt_vecs: np.ndarray,
    k: int = 10,
    top_n: int = 1,
    block: int = 512,
    exclude: Mapping[int, int] | None = None,
) -> CslsNeighbours:
    """Nearest neighbours under CSLS (Conneau et al. 2018), in both directions.

    CSLS(x, y) = 2 cos(x, y) - r_T(x) - r_S(y), where r_T(x) is the mean cosine of x to its
    ``k`` nearest target vectors and r_S(y) that of y to its ``k`` nearest source vectors: a
    hub, close to many words, has a high r and loses to a neighbour that is close to this word
    only. ``k=0`` gives plain cosine nearest neighbours. Vectors are L2-normalised here.
    ``exclude`` maps source rows to a target row that may not be their neighbour (nor they its);
    the r terms still count it.

    Memory: the similarity matrix is never held whole; ``block`` source rows at a time
    (512 x 20k float32 is 40 MB, plus the same again for ``np.partition``'s copy).
    """
    s, t = l2_normalize(src_vecs), l2_normalize(tgt_vecs)
    n_s, n_t = len(s), len(t)
    n_top = max(0, min(top_n, n_t))
    targets = np.zeros((n_s, n_top), dtype=np.int64)
    scores = np.zeros((n_s, n_top), dtype=np.float32)
    reverse = np.full(n_t, -1, dtype=np.int64)
    if n_s == 0 or n_t == 0 or n_top == 0:
        return CslsNeighbours(targets, scores, reverse)
    r_t, r_s = _mean_top_k(s, t, k, block), _mean_top_k(t, s, k, block)
    best_rev = np.full(n_t, -np.inf, dtype=np.float32)
    cols = np.arange(n_t)
    for i in range(0, n_s, block):
        c = 2 * (s[i : i + block] @ t.T) - r_t[i : i + block, None] - r_s[None, :]
        for row in range(i, min(i + block, n_s)):
            if exclude and row in exclude:
                c[row - i, exclude[row]] = -np.inf
        idx = np.argpartition(-c, n_top - 1, axis=1)[:, :n_top] if n_top < n_t else np.tile(cols, (len(c), 1))
        vals = np.take_along_axis(c, idx, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        targets[i : i + block] = np.take_along_axis(idx, order, axis=1)
        scores[i : i + block] = np.take_along_axis(vals, order, axis=1)
        # The reverse direction reuses this block: CSLS is symmetric in x and y.
        arg = c.argmax(axis=0)
        top = c[arg, cols]
        better = top > best_rev
        best_rev[better] = top[better]
        reverse[better] = arg[better] + i
    return CslsNeighbours(targets, scores, reverse)


def induce_from_vectors(
    src_words: Sequence[str],
    src_vecs: np.ndarray,
    tgt_words: Sequence[str],
    tgt_vecs: np.ndarray,
    src: str,
    tgt: str,
    k: int = 10,
    top_n: int = 1,
    mutual: bool = True,
    block: int = 512,
    keep_identical: bool = False,
) -> Lexicon:
    """A lexicon from word vectors: each source word's CSLS nearest target words (see :func:`induce_lexicon`)."""
    if len(src_words) != len(src_vecs) or len(tgt_words) != len(tgt_vecs):
        raise InputError(
            f"induce: {len(src_words)} source words for {len(src_vecs)} vectors, "
            f"{len(tgt_words)} target words for {len(tgt_vecs)} vectors"
        )
    exclude = None
    if not keep_identical:
        tgt_index = {normalize_word(w): j for j, w in enumerate(tgt_words)}
        exclude = {i: tgt_index[key] for i, w in enumerate(src_words) if (key := normalize_word(w)) in tgt_index}
    nn = csls_neighbours(src_vecs, tgt_vecs, k=k, top_n=top_n, block=block, exclude=exclude)
    lex = Lexicon(src, tgt)
    for i, (row, scores) in enumerate(zip(nn.targets, nn.scores, strict=True)):
        if len(row) == 0 or (mutual and nn.reverse[row[0]] != i):
            continue
        for j, score in zip(row, scores, strict=True):
            if np.isfinite(score):  # an excluded pair ranks last, and only when nothing else is left
                lex.add(src_words[i], tgt_words[j])
    return lex


def _dedupe(words: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(normalize_word(w) for w in words if w.strip()))


def induce_lexicon(
    encoder: Encoder,
    src_words: Iterable[str],
    tgt_words: Iterable[str],
    src: str,
    tgt: str,
    k: int = 10,
    top_n: int = 1,
    mutual: bool = True,
    embed_as: Literal["query", "passage"] = "query",
    batch_size: int = 256,
    block: int = 512,
    keep_identical: bool = False,
) -> Lexicon:
    """Induce a lexicon from ``encoder``'s embeddings of two word lists (bilingual lexicon induction).

    Each word is embedded alone (``embed_as``: with the encoder's query or passage encoding).
    For multilingual-e5-small, ``query`` (e5's advice for symmetric tasks such as bitext
    mining) is the default by measurement: on XQuAD's en and de vocabularies (7k words each,
    ``evals/acs_lexicon.py``) it gave 3041 mutual pairs against 2571, covering 43% of English
    question words against 29%, and 16/33 against 11/23 correct first translations on a
    99-word hand-made en-de list; on small lists without distractors the two tie.

    Each source word's nearest target words are then found under CSLS with ``k`` neighbours
    (:func:`csls_neighbours`). With ``mutual``
    (the default) a source word is kept only when its best target word has it as its own best
    source word (mutual nearest neighbours), which trades coverage for precision; its
    translations are then its ``top_n`` best target words, the mutual one first. Without
    ``mutual`` every source word gets its ``top_n`` best target words.

    A word found in both lists is not its own translation unless ``keep_identical``: names and
    loanwords in the target corpus (``house`` in German Wikipedia text) would otherwise win on
    their identical embedding and crowd out the real translation (measured on XQuAD en-de),
    and an identical pair switches nothing in :func:`clir_rag.train.codeswitch.code_switch` anyway.

    Words are lower-cased and de-duplicated first; a 20k x 20k induction holds two 20k x dim
    matrices plus ``block`` x 20k scores at a time.
    """
    s_words, t_words = _dedupe(src_words), _dedupe(tgt_words)
    s_vecs = embed_words(encoder, s_words, embed_as, batch_size)
    t_vecs = embed_words(encoder, t_words, embed_as, batch_size)
    return induce_from_vectors(
        s_words,
        s_vecs,
        t_words,
        t_vecs,
        src,
        tgt,
        k=k,
        top_n=top_n,
        mutual=mutual,
        block=block,
        keep_identical=keep_identical,
    )


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


@dataclass(frozen=True)
class LexiconScore:
    """Precision@1 of an induced lexicon on gold source words.

    ``total``: gold source words scored; ``covered``: those the induced lexicon translates;
    ``correct``: those whose first induced translation is one of the gold translations.
    """

    correct: int
    covered: int
    total: int

    @property
    def precision_at_1(self) -> float:
        """correct / covered (0 when nothing is covered)."""
        return self.correct / self.covered if self.covered else 0.0

    @property
    def coverage(self) -> float:
        """covered / total."""
        return self.covered / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, float | int]:
        """The figures as a JSON-ready dict."""
        return {
            "precision_at_1": round(self.precision_at_1, 4),
            "correct": self.correct,
            "covered": self.covered,
            "total": self.total,
            "coverage": round(self.coverage, 4),
        }

    def __str__(self) -> str:
        return (
            f"P@1 {self.precision_at_1:.3f} ({self.correct}/{self.covered} covered words), "
            f"coverage {self.coverage:.3f} ({self.covered}/{self.total})"
        )


def precision_at_1(
    induced: Lexicon, gold: Lexicon, held_out: float | Iterable[str] | None = None, seed: int = 0
) -> LexiconScore:
    """Precision@1 of ``induced`` against ``gold``'s held-out source words, with coverage.

    ``held_out``: a fraction (the slice :meth:`Lexicon.split` holds out with ``seed``), the
    source words to score (those not in ``gold`` are ignored), or None for all of ``gold``.
    A covered word is correct when its first induced translation is one of its gold
    translations (compared lower-cased), the MUSE convention.
    """
    if held_out is None:
        words = gold.words()
    elif isinstance(held_out, float | int):
        words = gold.split(float(held_out), seed)[1].words()
    else:
        words = [w for w in _dedupe(held_out) if gold.covers(w)]
    correct = covered = 0
    for w in words:
        guess = induced.best(w)
        if guess is None:
            continue
        covered += 1
        correct += normalize_word(guess) in {normalize_word(t) for t in gold.translations(w)}
    return LexiconScore(correct, covered, len(words))

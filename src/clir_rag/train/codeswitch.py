"""Artificial code-switching (ACS) of ranker training data (Litschko et al. 2023, arXiv 2305.05295).

English training examples (a query, a relevant passage, non-relevant passages) have words
swapped for their translations from a bilingual lexicon (:mod:`clir_rag.train.lexicon`), each
covered word with probability ``p``: one target language throughout (bilingual CS) or one
drawn per example from several lexicons (multilingual CS). A ranker trained on the mix learns
to match words across languages.

Randomness is per example and per text, not per run: each text's draws come from a generator
seeded with the seed, the example's id (its position when it has none) and the text's field, so
an example switches the same way whatever batch or order it comes in, and switching one field
does not change how another is switched.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from clir_rag.errors import InputError
from clir_rag.train.lexicon import Lexicon, word_pattern

Field = Literal["query", "positive", "negatives"]
FIELDS: tuple[Field, ...] = ("query", "positive", "negatives")


@dataclass(frozen=True)
class TrainingExample:
    """One ranker training example: a query, a relevant passage, non-relevant passages, an optional id."""

    query: str
    positive: str
    negatives: tuple[str, ...] = ()
    id: str | None = None

    def __post_init__(self) -> None:
        # a list of negatives would make equal examples compare unequal (and the example unhashable)
        object.__setattr__(self, "negatives", tuple(self.negatives))

    def to_dict(self) -> dict[str, Any]:
        """The JSONL record (``id`` only when set)."""
        d: dict[str, Any] = {} if self.id is None else {"id": self.id}
        d.update(query=self.query, positive=self.positive, negatives=list(self.negatives))
        return d

    @classmethod
    def from_dict(cls, d: object, where: str) -> TrainingExample:
        """An example from a JSONL record; ``where`` (``file:line``) starts the one-line error."""
        if not isinstance(d, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(d).__name__}")
        for key in ("query", "positive"):
            if not isinstance(d.get(key), str) or not d[key].strip():
                raise InputError(f"{where}: '{key}' must be a non-empty string")
        negatives = d.get("negatives", [])
        if not isinstance(negatives, list) or not all(isinstance(n, str) for n in negatives):
            raise InputError(f"{where}: 'negatives' must be a list of strings")
        id_ = d.get("id")
        if id_ is not None and (isinstance(id_, bool) or not isinstance(id_, str | int)):
            raise InputError(f"{where}: 'id' must be a string or an integer")
        return cls(d["query"], d["positive"], tuple(negatives), None if id_ is None else str(id_))


@dataclass(frozen=True)
class SwitchedExample:
    """A code-switched example, with the example it came from and the language switched into."""

    example: TrainingExample
    original: TrainingExample
    lang: str

    def to_dict(self) -> dict[str, Any]:
        """The JSONL record: the switched example, ``lang`` and the ``original`` texts."""
        original = self.original.to_dict()
        original.pop("id", None)
        return {**self.example.to_dict(), "lang": self.lang, "original": original}


@dataclass
class Coverage:
    """Word counts of switched texts: words seen, those the lexicon covers, those switched."""

    seen: int = 0
    covered: int = 0
    switched: int = 0

    def add(self, other: Coverage) -> None:
        """Add ``other``'s counts to these."""
        self.seen += other.seen
        self.covered += other.covered
        self.switched += other.switched

    def as_dict(self) -> dict[str, float | int]:
        """Counts and rates as a JSON-ready dict (``coverage`` = covered/seen, ``switch_rate`` = switched/seen)."""
        return {
            "seen": self.seen,
            "covered": self.covered,
            "switched": self.switched,
            "coverage": round(self.covered / self.seen, 4) if self.seen else 0.0,
            "switch_rate": round(self.switched / self.seen, 4) if self.seen else 0.0,
        }


@dataclass
class CodeSwitchReport:
    """What :func:`code_switch` did: word coverage per field, and per target language and field."""

    mode: str
    seed: int
    p: dict[str, float]
    examples: int = 0
    by_field: dict[str, Coverage] = field(default_factory=dict)
    by_lang: dict[str, dict[str, Coverage]] = field(default_factory=dict)
    examples_by_lang: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "mode": self.mode,
            "seed": self.seed,
            "p": self.p,
            "examples": self.examples,
            "examples_by_lang": self.examples_by_lang,
            "by_field": {f: c.as_dict() for f, c in self.by_field.items()},
            "by_lang": {lang: {f: c.as_dict() for f, c in fs.items()} for lang, fs in self.by_lang.items()},
        }

    def __str__(self) -> str:
        lines = [f"code-switching ({self.mode}, seed {self.seed}): {self.examples} examples"]
        for lang, fs in self.by_lang.items():
            for f, c in fs.items():
                d = c.as_dict()
                lines.append(
                    f"  {lang} {f:<9} p={self.p[f]:.2f}: {c.seen} words, {c.covered} covered ({d['coverage']:.1%}), "
                    f"{c.switched} switched ({d['switch_rate']:.1%})"
                )
        return "\n".join(lines)


def _rng(seed: int, key: str, purpose: str) -> random.Random:
    # sha256, not hash(): str hashes change between processes (PYTHONHASHSEED).
    digest = hashlib.sha256(f"{seed}\0{key}\0{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _match_case(original: str, translation: str) -> str:
    """``translation`` with ``original``'s capitalisation: all capitals, or a capital first letter."""
    if len(original) > 1 and original.isupper():
        return translation.upper()
    if original[:1].isupper() and translation[:1].islower():
        return translation[:1].upper() + translation[1:]
    return translation


def switch_text(
    text: str, lexicon: Lexicon, p: float, rng: random.Random, choice: Literal["first", "random"] = "first"
) -> tuple[str, Coverage]:
    """``text`` with each word that ``lexicon`` covers replaced by a translation with probability ``p``.

    Only the words are replaced; spaces, punctuation and digits stay where they were. A
    replacement takes the word's capitalisation (:func:`_match_case`). ``choice``: the best
    translation, or one of the word's translations at random. One draw from ``rng`` per
    covered word (two with ``choice="random"``), so the output depends on the text and the rng only.
    """
    out: list[str] = []
    stats = Coverage()
    pos = 0
    for m in word_pattern().finditer(text):
        stats.seen += 1
        translations = lexicon.translations(m.group())
        if not translations:
            continue
        stats.covered += 1
        if rng.random() >= p:
            continue
        t = translations[0] if choice == "first" else rng.choice(translations)
        out.append(text[pos : m.start()])
        out.append(_match_case(m.group(), t))
        pos = m.end()
        stats.switched += 1
    out.append(text[pos:])
    return "".join(out), stats


def _field_ps(p: float | Mapping[str, float], fields: Sequence[str]) -> dict[str, float]:
    unknown = [f for f in fields if f not in FIELDS]
    if unknown:
        raise InputError(f"code_switch: unknown field(s) {unknown}; fields are {list(FIELDS)}")
    ps: dict[str, float]
    if isinstance(p, Mapping):
        extra = [f for f in p if f not in FIELDS]
        if extra:
            raise InputError(f"code_switch: p names unknown field(s) {extra}; fields are {list(FIELDS)}")
        ps = {f: float(p.get(f, 0.0)) for f in FIELDS}
    else:
        ps = {f: float(p) for f in FIELDS}
    ps = {f: (ps[f] if f in fields else 0.0) for f in FIELDS}
    for f, v in ps.items():
        if not 0.0 <= v <= 1.0:
            raise InputError(f"code_switch: p for {f} must be in [0, 1], got {v}")
    return ps


def code_switch(
    examples: Iterable[TrainingExample],
    lexicons: Lexicon | Sequence[Lexicon],
    p: float | Mapping[str, float] = 0.5,
    fields: Sequence[str] = FIELDS,
    mode: Literal["bilingual", "multilingual"] = "bilingual",
    seed: int = 0,
    choice: Literal["first", "random"] = "first",
) -> tuple[list[SwitchedExample], CodeSwitchReport]:
    """Code-switch ``examples`` with ``lexicons``; return the switched examples and a coverage report.

    ``p``: the probability of switching a covered word, one for all ``fields`` or a dict
    field -> p (fields missing from the dict, or from ``fields``, are left as they are).
    ``mode="bilingual"``: one lexicon, every example into its target language;
    ``"multilingual"``: each example into the language of one of ``lexicons``, drawn per example.
    The lexicons must share their source language. ``choice``: a word's best translation, or
    one of its translations at random.

    Deterministic: the same example (same id, or the same position when ids are missing) and
    seed switch the same way in any batch; see the module docstring.
    """
    lexs = [lexicons] if isinstance(lexicons, Lexicon) else list(lexicons)
    if not lexs:
        raise InputError("code_switch: no lexicon given")
    if mode not in ("bilingual", "multilingual"):
        raise InputError(f"code_switch: mode must be 'bilingual' or 'multilingual', got {mode!r}")
    if mode == "bilingual" and len(lexs) != 1:
        raise InputError(f"code_switch: bilingual mode takes one lexicon, got {len(lexs)}: use mode='multilingual'")
    if len({lex.src for lex in lexs}) > 1:
        raise InputError(f"code_switch: the lexicons have different source languages {[lex.src for lex in lexs]}")
    if choice not in ("first", "random"):
        raise InputError(f"code_switch: choice must be 'first' or 'random', got {choice!r}")
    ps = _field_ps(p, fields)
    report = CodeSwitchReport(mode=mode, seed=seed, p=ps)
    report.by_field = {f: Coverage() for f in FIELDS}
    for lex in lexs:
        report.by_lang.setdefault(lex.tgt, {f: Coverage() for f in FIELDS})
        report.examples_by_lang.setdefault(lex.tgt, 0)
    out: list[SwitchedExample] = []
    for index, ex in enumerate(examples):
        key = ex.id if ex.id is not None else f"#{index}"
        lex = lexs[0] if len(lexs) == 1 else _rng(seed, key, "lang").choice(lexs)

        def switch(text: str, f: str, purpose: str, key: str = key, lex: Lexicon = lex) -> str:
            switched, stats = switch_text(text, lex, ps[f], _rng(seed, key, purpose), choice)
            report.by_field[f].add(stats)
            report.by_lang[lex.tgt][f].add(stats)
            return switched

        new = TrainingExample(
            query=switch(ex.query, "query", "query"),
            positive=switch(ex.positive, "positive", "positive"),
            negatives=tuple(switch(n, "negatives", f"negatives:{i}") for i, n in enumerate(ex.negatives)),
            id=ex.id,
        )
        out.append(SwitchedExample(new, ex, lex.tgt))
        report.examples += 1
        report.examples_by_lang[lex.tgt] += 1
    return out, report


def read_examples(path: str | Path) -> list[TrainingExample]:
    """Training examples from a JSONL file: one object per line with ``query``, ``positive``, optional
    ``negatives`` (a list) and ``id``; other keys (a switched file's ``lang`` and ``original``) are ignored.

    Blank lines are skipped; a bad line raises :class:`InputError` naming ``file:line``.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read the examples: {e.strerror or e}") from e
    out = []
    for no, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{no}"
        try:
            record = json.loads(line)
        except UnicodeDecodeError as e:
            raise InputError(f"{where}: not UTF-8 (byte {e.start})") from None
        except json.JSONDecodeError as e:
            raise InputError(f"{where}: not JSON ({e.msg} at column {e.colno})") from None
        out.append(TrainingExample.from_dict(record, where))
    return out


def write_examples(path: str | Path, examples: Iterable[TrainingExample | SwitchedExample]) -> int:
    """Write examples (plain or switched) as JSONL, UTF-8 unescaped; returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for ex in examples:
            f.write(json.dumps(ex.to_dict(), ensure_ascii=False) + "\n")
            n += 1
    return n

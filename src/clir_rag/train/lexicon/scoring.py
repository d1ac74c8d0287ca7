"""Scoring a lexicon against a gold one: precision@1 on held-out source words, with coverage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from clir_rag.train.lexicon.base import Lexicon
from clir_rag.train.lexicon.words import normalize_word, unique_words


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
        words = [w for w in unique_words(held_out) if gold.covers(w)]
    correct = covered = 0
    for w in words:
        guess = induced.best(w)
        if guess is None:
            continue
        covered += 1
        correct += normalize_word(guess) in {normalize_word(t) for t in gold.translations(w)}
    return LexiconScore(correct, covered, len(words))

"""Citation markers in generated answers: read them (:func:`citations`) and take them out (:func:`strip_citations`).

The generator numbers the passages it gives the LLM and asks for ``[1]``-style
markers. Everything that deals with those markers lives here, apart from the
answer check (:mod:`clir_rag.rag.check`), because they are needed well beyond
scoring: the service returns the cited passage numbers with each answer, the
generator re-attaches markers after fixing an answer's language, and the check
strips them before scoring. Only the standard library is used, so reading
citations pulls in no language detector or metric code.

A marker is ``[1]``, ``[1, 2]``, ``[1-3]`` or ``[1][3]`` (each bracket pair is
one marker), also with full-width or lenticular brackets as CJK output has
them, and ``[Passage 1]`` / ``[passage 2, 3]`` as small models write them
after the prompt's own numbering. A bracketed number of four digits (a year
such as ``[1945]``) is never a marker.
"""

from __future__ import annotations

import re

# At most three digits, so that a bracketed year such as "[1945]" is not taken for a citation.
_NUM = r"\d{1,3}"
# The leading whitespace belongs to the marker, so stripping "Tesla [1]." leaves "Tesla." and not "Tesla .".
_CITATION = re.compile(rf"\s*[\[［【]\s*(?:(?i:passage|source)s?\s*)?{_NUM}(?:\s*[,;，、\-–]\s*{_NUM})*\s*[\]］】]")
_CITATION_PART = re.compile(rf"({_NUM})(?:\s*[\-–]\s*({_NUM}))?")
# A range longer than this is not expanded (a model writing "[1-999]" cites nothing useful).
_MAX_RANGE = 50


def _numbers(marker: str) -> list[int]:
    """The passage numbers one marker names, ranges expanded (``[2-4]`` gives 2, 3, 4)."""
    out: list[int] = []
    for part in _CITATION_PART.finditer(marker):
        lo = int(part.group(1))
        hi = int(part.group(2)) if part.group(2) else lo
        out.extend(range(lo, hi + 1) if 0 <= hi - lo <= _MAX_RANGE else (lo, hi))
    return out


def strip_citations(text: str, max_number: int | None = None) -> str:
    """``text`` without citation markers such as ``[1]``, ``[1, 2]`` or ``[1][3]``, and trimmed.

    The whitespace before a marker goes with it, so ``Tesla [1].`` becomes ``Tesla.``. With
    ``max_number`` (the number of passages in the context), a bracketed number above it is not a
    citation but part of the answer: small models write answers like ``[24]``, and stripping
    those would turn a right answer into an empty one.
    """

    def drop(marker: re.Match[str]) -> str:
        if max_number is not None and any(n > max_number for n in _numbers(marker.group())):
            return marker.group()
        return ""

    return _CITATION.sub(drop, text).strip()


def citations(text: str, max_number: int | None = None) -> list[int]:
    """Passage numbers cited in ``text``, in order of first appearance (``[2-4]`` gives 2, 3, 4).

    ``max_number`` as in :func:`strip_citations`: markers with a larger number are not citations.
    """
    seen: dict[int, None] = {}
    for marker in _CITATION.finditer(text):
        numbers = _numbers(marker.group())
        if max_number is not None and any(n > max_number for n in numbers):
            continue
        for n in numbers:
            seen.setdefault(n, None)
    return list(seen)

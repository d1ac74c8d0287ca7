"""Reading a ranking like ``[3] > [1] > [2]`` out of whatever an LLM wrote.

Small and quantised models add prose, reasoning blocks, repeat or invent ids,
or stop early. The parser always returns a valid permutation of the window:
it takes the best-looking ranking in the text, drops ids that are out of range
or repeated, and appends the ids it never mentioned in their input order, so
a partial answer still moves what it did rank. The outcome says whether the
answer was usable as is (``ok``), needed repair (``repaired``) or held no
ranking at all (``failed``, input order kept).

Models prompted in Chinese or Japanese often write the ranking in full-width
forms (``［２］ ＞ ［１］``) or in CJK brackets (``【2】>【1】``): the answer is
brought to ASCII forms (NFKC, and the CJK brackets to ``[ ]``) before it is read.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["ok", "repaired", "failed"]

_THINK = re.compile(r"<(think|thinking|reasoning)>.*?(</\1>|$)", re.S | re.I)
_BRACKETED = re.compile(r"\[\s*(\d+)\s*\]")
_CHAIN = re.compile(r"\[\s*\d+\s*\](?:\s*(?:>|,|>>|->|→)\s*\[\s*\d+\s*\])+")
_BARE_CHAIN = re.compile(r"\b\d+\b(?:\s*(?:>|,|>>|->|→)\s*\b\d+\b)+")
_NUMBER = re.compile(r"\d+")
# Brackets NFKC leaves alone (lenticular, tortoise-shell, white ones) and the ideographic comma, as ASCII
_CJK_FORMS = str.maketrans(
    {"【": "[", "】": "]", "〔": "[", "〕": "]", "〖": "[", "〗": "]", "〘": "[", "〙": "]", "、": ","}
)


@dataclass
class ParsedPermutation:
    """A window's order read from an LLM answer: ``ok``, ``repaired`` (and what was repaired) or ``failed``."""

    order: list[int]  # 0-based positions of the window, best first
    outcome: Outcome
    problems: list[str] = field(default_factory=list)


def _candidate_ids(text: str, n: int) -> tuple[list[int], bool]:
    """Ids of the most ranking-like part of the text, and whether it was an explicit ``[i] > [j]`` chain.

    Candidates are every chain and, as fallbacks, all bracketed ids in order of
    mention and the longest chain of bare numbers. The one naming the most
    distinct valid ids wins; explicit chains win ties, later ones first (the
    final answer tends to follow the reasoning).
    """

    def valid(ids: list[int]) -> int:
        return len({i for i in ids if 1 <= i <= n})

    options: list[tuple[int, int, int, list[int], bool]] = []
    for m in _CHAIN.finditer(text):
        ids = [int(x) for x in _BRACKETED.findall(m.group())]
        options.append((valid(ids), 2, m.start(), ids, True))
    bracketed = [int(x) for x in _BRACKETED.findall(text)]
    if bracketed:
        options.append((valid(bracketed), 1, 0, bracketed, False))
    bare = _BARE_CHAIN.findall(text)
    if bare and not bracketed:
        ids = [int(x) for x in _NUMBER.findall(max(bare, key=lambda c: len(_NUMBER.findall(c))))]
        options.append((valid(ids), 0, 0, ids, False))
    if not options:
        return [], False
    best = max(options, key=lambda o: o[:3])
    return best[3], best[4]


def parse_permutation(text: str, n: int) -> ParsedPermutation:
    """A permutation of ``range(n)`` from an answer that numbers passages from 1."""
    if n <= 0:
        return ParsedPermutation([], "ok")
    # full-width ［２］ ＞ ［１］ (NFKC) and CJK brackets 【2】 read as [2] > [1]
    cleaned = _THINK.sub(" ", unicodedata.normalize("NFKC", text or "").translate(_CJK_FORMS))
    ids, explicit = _candidate_ids(cleaned, n)
    problems: list[str] = []
    order: list[int] = []
    seen: set[int] = set()
    for ident in ids:
        pos = ident - 1
        if not 0 <= pos < n:
            problems.append(f"id {ident} out of range 1..{n}")
        elif pos in seen:
            problems.append(f"id {ident} repeated")
        else:
            seen.add(pos)
            order.append(pos)
    if not order:
        reason = "empty answer" if not (text or "").strip() else "no passage ids in the answer"
        return ParsedPermutation(list(range(n)), "failed", [*problems, reason])
    missing = [i for i in range(n) if i not in seen]
    if missing:
        problems.append(f"{len(missing)} of {n} ids missing, appended in input order")
        order.extend(missing)
    if not explicit and len(order) > 1:
        problems.append("no '[i] > [j]' chain; read ids in order of mention")
    return ParsedPermutation(order, "repaired" if problems else "ok", problems)

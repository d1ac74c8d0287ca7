"""The answer check: is a generated answer correct, and is it in the language it should be?

Correctness is SQuAD/MLQA-style exact match and token F1 against gold answers
that may be given in several languages (a cross-lingual collection has the
answer span in each language's passage): the best score over all of them
counts, and the language of the gold that gave it is reported.

Normalisation follows MLQA's evaluation script, made Unicode-aware:

* NFKC, then casefold (then NFKC again, as casefolding can leave text
  un-normalised), so full-width ``１９４５`` equals ``1945`` and ``Straße``
  equals ``STRASSE``;
* every punctuation (``P*``) *and* symbol (``S*``) character is removed,
  not replaced by a space, as SQuAD does. SQuAD's ``string.punctuation``
  already removes the ASCII symbols ``$ + < = > ^ ` | ~``; removing all of
  ``S*`` extends that evenly to ``€``, ``°``, ``−`` and the like, so
  ``€100`` and ``$100`` are treated alike (MLQA keeps non-ASCII symbols,
  so its scores can be slightly lower on such answers);
* articles are dropped for English, German and Spanish (MLQA's lists).
  Arabic's ``ال`` is a prefix, not a word: MLQA strips it with a regex that
  also cuts it out of the middle of words, so it is left alone here;
  other languages have no article removal;
* tokens are whitespace-separated, except in scripts written without
  spaces (Han, kana, Thai, Lao, Khmer, Myanmar), where each character is a
  token, as MLQA does for Chinese (combining marks stay with their base
  character, so a Thai vowel sign is not a token of its own).

Citation markers (``[1]``, ``[1, 2]``) are not part of an answer: strip them
with :func:`clir_rag.rag.citations.strip_citations` before scoring (their
parsing lives in :mod:`clir_rag.rag.citations`, which the service and the
generator use too).

The language check (:func:`response_language`) has three outcomes, not two:
an answer too short to attribute (a number, a name) is *undetermined*, which
is counted on its own and left out of the language-accuracy denominator,
because calling "1945" English or German would only add noise to the measure.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from clir_rag.errors import InputError
from clir_rag.languages import language_confidences, normalize_language
from clir_rag.rag.citations import strip_citations
from clir_rag.scripts import HAN_RANGES, HANGUL_SYLLABLE_RANGES, KANA_RANGES, in_ranges, is_no_space_char

# MLQA's article lists; compared as whole tokens after punctuation removal.
_ARTICLES: dict[str, frozenset[str]] = {
    "en": frozenset({"a", "an", "the"}),
    "de": frozenset({"der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "eines"}),
    "es": frozenset({"el", "la", "los", "las", "un", "una", "unos", "unas"}),
}

# Scripts where one character carries about as much as two Latin letters
# (logographic Han, syllabic kana and Hangul blocks). The length threshold of
# response_language counts them twice; without that, a full Chinese sentence
# of nine characters would be too short to attribute.
_DENSE_RANGES = HAN_RANGES + KANA_RANGES + HANGUL_SYLLABLE_RANGES
_DENSE_WEIGHT = 2

# Expected codes that name a macrolanguage whose members lingua tells apart:
# "no" normalises to Bokmål, but a Nynorsk answer is still Norwegian.
_MACROLANGUAGES: dict[str, frozenset[str]] = {
    "no": frozenset({"nb", "nn"}),
    "nor": frozenset({"nb", "nn"}),
}


def _is_spaceless(ch: str) -> bool:
    # Digits of these scripts' blocks (Thai ๑๒๓) are left out, so numbers stay one token.
    return is_no_space_char(ch) and unicodedata.category(ch) != "Nd"


def _lang(lang: str | None) -> str | None:
    return None if lang is None else normalize_language(lang)


def normalize_answer(text: str, lang: str | None = None) -> str:
    """SQuAD/MLQA-style normalised answer: NFKC, casefolded, no punctuation or symbols, no articles.

    ``lang`` (any spelling :func:`clir_rag.languages.normalize_language` accepts)
    selects the articles to drop: English, German and Spanish have them; any
    other language, or None, drops none. Whitespace is collapsed to single spaces.
    """
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] not in "PS")
    articles = _ARTICLES.get(_lang(lang) or "", frozenset())
    return " ".join(tok for tok in text.split() if tok not in articles)


def answer_tokens(text: str, lang: str | None = None) -> list[str]:
    """Tokens of the normalised answer: each character of a spaceless script is one token.

    Runs of other characters are split on whitespace, so ``1945年`` gives
    ``["1945", "年"]``. A combining mark following a spaceless-script character
    stays with it (Thai ``รุ`` is one token), as it is not a character on its own.
    """
    tokens: list[str] = []
    for word in normalize_answer(text, lang).split():
        run: list[str] = []
        after_char_token = False  # the last token is a spaceless-script character that marks may join
        for ch in word:
            if after_char_token and unicodedata.category(ch)[0] == "M":
                tokens[-1] += ch  # checked first: Thai, Khmer... marks lie in their script's own block
            elif _is_spaceless(ch):
                if run:
                    tokens.append("".join(run))
                    run = []
                tokens.append(ch)
                after_char_token = True
            else:
                run.append(ch)
                after_char_token = False
        if run:
            tokens.append("".join(run))
    return tokens


def _em(pred: list[str], gold: list[str]) -> float:
    # Comparing tokens rather than strings makes "1945 年" equal "1945年": spaces
    # between characters of a spaceless script carry nothing. For space-separated
    # text this is the same as comparing the normalised strings.
    return float(pred == gold)


def _f1(pred: list[str], gold: list[str]) -> float:
    if not pred or not gold:
        return float(pred == gold)  # both empty: agreement; one empty: nothing in common
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str, lang: str | None = None) -> float:
    """1.0 when the normalised token sequences are equal, else 0.0."""
    return _em(answer_tokens(prediction, lang), answer_tokens(gold, lang))


def token_f1(prediction: str, gold: str, lang: str | None = None) -> float:
    """SQuAD token F1 (multiset overlap); 1.0 when both are empty, 0.0 when only one is."""
    return _f1(answer_tokens(prediction, lang), answer_tokens(gold, lang))


@dataclass(frozen=True)
class MatchScore:
    """The best exact match and F1 of one prediction over all gold answers.

    ``gold`` and ``gold_lang`` are the gold answer that gave the best F1 and its
    language (None when the golds were given without languages).
    """

    em: float
    f1: float
    gold: str
    gold_lang: str | None


def _gold_candidates(
    golds: Mapping[str, Sequence[str] | str] | Sequence[str] | str, lang: str | None
) -> list[tuple[str, str | None]]:
    """(gold, gold language) pairs, golds in the answer's language first, blank golds left out."""
    if isinstance(golds, str):
        pairs: list[tuple[str, str | None]] = [(golds, None)]
    elif isinstance(golds, Mapping):
        pairs = []
        for key, values in golds.items():
            code = normalize_language(key)
            # A bare string is a Sequence[str] of characters: take it as one answer.
            for gold in [values] if isinstance(values, str) else values:
                pairs.append((gold, code))
    else:
        pairs = [(gold, None) for gold in golds]
    pairs = [(g, code) for g, code in pairs if isinstance(g, str) and g.strip()]
    # On a tie the gold in the answer's own language is reported (stable sort keeps the given order otherwise).
    return sorted(pairs, key=lambda p: p[1] != lang) if lang else pairs


def best_match(
    prediction: str,
    golds: Mapping[str, Sequence[str] | str] | Sequence[str] | str,
    lang: str | None = None,
) -> MatchScore:
    """Best EM and F1 of ``prediction`` over every gold answer, in any language.

    ``golds`` is one answer, a list of answers, or answers per language
    (``{"en": ["Tesla"], "de": ["Nikola Tesla"]}``). ``lang`` is the
    prediction's language; each gold is normalised with its own language (the
    articles to drop differ), a gold without one with ``lang``. EM and F1 are
    maximised separately, as SQuAD does; ``gold``/``gold_lang`` name the gold of
    the best F1, preferring one in ``lang`` on a tie.

    Raises :class:`InputError` when there is no non-blank gold answer, since a
    question without one cannot be scored (callers count it instead).
    """
    lang = _lang(lang)
    candidates = _gold_candidates(golds, lang)
    if not candidates:
        raise InputError(f"no gold answer to score the prediction against (golds given: {golds!r})")
    pred = answer_tokens(prediction, lang)
    scored = []  # (em, f1, gold, gold language)
    for gold, gold_lang in candidates:
        tokens = answer_tokens(gold, gold_lang or lang)
        scored.append((_em(pred, tokens), _f1(pred, tokens), gold, gold_lang))
    _, f1, gold, gold_lang = max(scored, key=lambda s: s[1])  # max keeps the first of equals
    return MatchScore(em=max(s[0] for s in scored), f1=f1, gold=gold, gold_lang=gold_lang)


@dataclass(frozen=True)
class LanguageVerdict:
    """Whether an answer is in the expected language.

    ``correct`` is None when it cannot be told: the answer is too short once
    citations, digits and punctuation are gone (a number or a name belongs to
    no language), lingua gives no answer, or lingua's best guess is another
    language but with low confidence (``detected`` holds that guess then).
    Such answers are counted apart and left out of the language-accuracy
    denominator rather than called wrong. ``detected`` is None for answers too
    short to try: a guess from a handful of letters is noise.
    """

    detected: str | None
    expected: str
    correct: bool | None


def _letter_units(text: str) -> int:
    """Letters (and combining marks) in ``text``, a Han/kana/Hangul character counting as two."""
    units = 0
    for ch in text:
        if unicodedata.category(ch)[0] in "LM":
            units += _DENSE_WEIGHT if in_ranges(ch, _DENSE_RANGES) else 1
    return units


def response_language(text: str, expected: str, *, min_chars: int = 12, min_margin: float = 2.0) -> LanguageVerdict:
    """Detect the answer's language with lingua and compare it with ``expected``.

    ``min_chars`` counts letters only (whitespace, digits, punctuation and
    citation markers carry no evidence of a language); a Han, kana or Hangul
    character counts as two letters. Codes are compared after
    :func:`clir_rag.languages.normalize_language`, so ``deu`` and ``de`` agree;
    lingua tells Norwegian Bokmål (``nb``) from Nynorsk (``nn``), and an
    expected ``no`` (which normalises to ``nb``) accepts both.

    An answer is only called wrong when lingua is reasonably sure of another language: its top
    confidence at least ``min_margin`` times the runner-up's. Short answers with foreign names
    ("Er wurde in Smiljan geboren." is Dutch 0.19 vs Afrikaans 0.13) would otherwise count as
    language errors they are not. A margin, not an absolute floor, because lingua spreads its
    confidence over similar languages: a plain English sentence can score only 0.17 (vs 0.06).
    """
    canonical = normalize_language(expected)
    accepted = {canonical} | _MACROLANGUAGES.get(expected.strip().lower(), frozenset())
    body = strip_citations(text)
    if _letter_units(body) < min_chars:
        return LanguageVerdict(detected=None, expected=canonical, correct=None)
    ranked = language_confidences(body, top=2)
    if not ranked:
        return LanguageVerdict(detected=None, expected=canonical, correct=None)
    detected, confidence = ranked[0]
    if detected in accepted:
        return LanguageVerdict(detected=detected, expected=canonical, correct=True)
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if confidence < min_margin * runner_up:
        return LanguageVerdict(detected=detected, expected=canonical, correct=None)  # too unsure to call it wrong
    return LanguageVerdict(detected=detected, expected=canonical, correct=False)

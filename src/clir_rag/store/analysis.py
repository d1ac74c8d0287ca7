"""Language-aware text analysis for BM25.

Per language: Unicode NFKC + casefold, invisible characters dropped (see below), then
- a Snowball stemmer (PyStemmer) and bm25s' stopword list where the language has them;
- character bigrams for scripts written without spaces (Chinese, Japanese, Thai,
  Lao, Khmer, Burmese), since a word segmenter per script is out of scope and
  bigrams are the standard strong baseline for CJK retrieval;
- a plain Unicode word split for every other language (Swahili, Yoruba, ...).

Invisible characters (Unicode's Default_Ignorable_Code_Point: zero-width joiner and non-joiner,
zero-width space, soft hyphen, BOM, word joiner, bidi marks, variation selectors, tags) are
removed on both sides, documents and queries, as ICU's NFKC_Casefold (Lucene's ICU folding)
does: they come from copy-paste, HTML ``&shy;`` or typing habits, and inside a word they would
split it (``Eif<ZWJ>fel`` was ``eif`` + ``fel``, which ``Eiffel`` never matches). In Indic scripts
ZWJ/ZWNJ only choose a glyph form (a conjunct or half form), so dropping them loses nothing
for matching. Persian is the exception: its zero-width non-joiner separates a word from its
affixes (``کتاب‌ها``, books), and is turned into a space, as Lucene's PersianCharFilter does, so
that the stemmer and stop words see the parts, as they do when a writer types a space.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from clir_rag.languages import normalize_language
from clir_rag.scripts import NO_SPACE_CLASS, NO_SPACE_LANGS

_STEMMERS = {
    "ar": "arabic",
    "hy": "armenian",
    "eu": "basque",
    "ca": "catalan",
    "cs": "czech",
    "da": "danish",
    "nl": "dutch",
    "en": "english",
    "eo": "esperanto",
    "et": "estonian",
    "fi": "finnish",
    "fr": "french",
    "de": "german",
    "el": "greek",
    "hi": "hindi",
    "hu": "hungarian",
    "id": "indonesian",
    "ga": "irish",
    "it": "italian",
    "lt": "lithuanian",
    "ne": "nepali",
    "nb": "norwegian",
    "nn": "norwegian",
    "fa": "persian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "st": "sesotho",
    "es": "spanish",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}
_STOPWORDS = {
    "en": "STOPWORDS_EN",
    "de": "STOPWORDS_GERMAN",
    "nl": "STOPWORDS_DUTCH",
    "fr": "STOPWORDS_FRENCH",
    "es": "STOPWORDS_SPANISH",
    "pt": "STOPWORDS_PORTUGUESE",
    "it": "STOPWORDS_ITALIAN",
    "ru": "STOPWORDS_RUSSIAN",
    "sv": "STOPWORDS_SWEDISH",
    "nb": "STOPWORDS_NORWEGIAN",
    "nn": "STOPWORDS_NORWEGIAN",
    "da": "STOPWORDS_DANISH",
    "tr": "STOPWORDS_TURKISH",
    "zh": "STOPWORDS_CHINESE",
    "ko": "STOPWORDS_KOREAN",
}
# Scripts written without spaces (clir_rag.scripts), their punctuation left out: NFKC has made
# full-width forms ASCII, and the rest of CJK punctuation separates terms rather than making them.
_NO_SPACE = NO_SPACE_CLASS
# A run of no-space-script characters, or an ordinary word (letters, digits, marks).
_TOKEN = re.compile(rf"[{_NO_SPACE}]+|[^\W_{_NO_SPACE}]+(?:['’][^\W_{_NO_SPACE}]+)*")
_NO_SPACE_RUN = re.compile(rf"[{_NO_SPACE}]+")
# Default_Ignorable_Code_Point (Unicode's DerivedCoreProperties.txt), less the reserved ranges
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]+"
)
_ZWNJ = "\u200c"
# languages whose zero-width non-joiner ends a word part (see the module docstring)
_ZWNJ_SPLITS = {"fa"}


@dataclass(frozen=True)
class Analyzer:
    """Turns text into BM25 terms for one language."""

    lang: str
    stemmer_name: str | None
    stopwords: frozenset[str] = field(default_factory=frozenset)

    @property
    def bigrams(self) -> bool:
        """Whether this language is indexed as character bigrams (Chinese, Japanese, Thai, ...)."""
        return self.lang in NO_SPACE_LANGS

    def __call__(self, text: str) -> list[str]:
        """The BM25 terms of ``text``: normalised, tokenised, stop words removed, stemmed where a stemmer exists."""
        text = unicodedata.normalize("NFKC", text)
        if self.lang in _ZWNJ_SPLITS:
            text = text.replace(_ZWNJ, " ")
        text = _IGNORABLE.sub("", text).casefold()
        terms: list[str] = []
        for tok in _TOKEN.findall(text):
            if _NO_SPACE_RUN.fullmatch(tok):
                # Mixed-script text (a Thai word in an English passage) gets bigrams too.
                terms.extend([tok] if len(tok) == 1 else [tok[i : i + 2] for i in range(len(tok) - 1)])
            elif tok not in self.stopwords:
                terms.append(tok)
        if self.stemmer_name:
            terms = [
                t if _NO_SPACE_RUN.match(t) else s for t, s in zip(terms, _stem(self.stemmer_name, terms), strict=True)
            ]
        return terms


def _stem(name: str, words: list[str]) -> list[str]:
    return _stemmer(name).stemWords(words)


@lru_cache(maxsize=64)
def _stemmer(name: str):
    import Stemmer

    return Stemmer.Stemmer(name)


@lru_cache(maxsize=256)
def get_analyzer(lang: str) -> Analyzer:
    """The analyzer for a language (any spelling accepted by :mod:`clir_rag.languages`)."""
    code = normalize_language(lang)
    stop: frozenset[str] = frozenset()
    if code in _STOPWORDS:
        import bm25s.stopwords as sw

        stop = frozenset(w.casefold() for w in getattr(sw, _STOPWORDS[code]))
    return Analyzer(code, _STEMMERS.get(code), stop)

"""Translation: NMT through CTranslate2 (NLLB, M2M-100, Marian), cached and sentence-level."""

from clir_rag.translate.base import TranslationStats, Translator, join_sentences, split_sentences, translate_into

__all__ = [
    "CTranslate2Translator",
    "TranslationStats",
    "Translator",
    "join_sentences",
    "split_sentences",
    "translate_into",
]


def __getattr__(name: str):  # ctranslate2 and sentencepiece load on first use
    if name == "CTranslate2Translator":
        from clir_rag.translate.ctranslate2_backend import CTranslate2Translator

        return CTranslate2Translator
    raise AttributeError(name)

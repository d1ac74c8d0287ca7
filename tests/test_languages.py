import pytest

from clir_rag.errors import LanguageError
from clir_rag.languages import (
    detect_language,
    get_language,
    normalize_language,
    supported_languages,
    to_flores,
)

pytestmark = pytest.mark.fast  # no LLM, server or index build: in the fast tier (make test-fast)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("de", "de"),
        ("DE", "de"),
        ("deu", "de"),
        ("ger", "de"),
        ("deu_Latn", "de"),
        ("German", "de"),
        ("de-AT", "de"),
        ("swh_Latn", "sw"),
        ("swa", "sw"),
        ("zho_Hans", "zh"),
        ("zh-TW", "zh"),
        ("arb_Arab", "ar"),
        ("ha", "ha"),
        ("hau_Latn", "ha"),
        ("yor", "yo"),
        ("som_Latn", "so"),
        ("fin", "fi"),
        ("ita_Latn", "it"),
        ("rus_Cyrl", "ru"),
        ("ceb", "ceb"),
        ("fil", "tl"),
        ("zh-yue", "yue"),  # issue 14: an extended language subtag names the language (it became zh)
        ("zh-cmn", "zh"),
    ],
)
def test_normalize_accepts_every_code_family(code: str, expected: str) -> None:
    assert normalize_language(code) == expected


@pytest.mark.parametrize(
    ("code", "flores"),
    [
        ("en", "eng_Latn"),
        ("sw", "swh_Latn"),
        ("ha", "hau_Latn"),
        ("yo", "yor_Latn"),
        ("so", "som_Latn"),
        ("de", "deu_Latn"),
        ("fi", "fin_Latn"),
        ("it", "ita_Latn"),
        ("ru", "rus_Cyrl"),
        ("zh", "zho_Hans"),
        ("zh-TW", "zho_Hant"),
        ("zh-Hant", "zho_Hant"),
        ("sr-Latn", "srp_Latn"),
        ("fa", "pes_Arab"),
    ],
)
def test_flores_codes(code: str, flores: str) -> None:
    assert to_flores(code) == flores


def test_script_comes_from_flores_or_tag() -> None:
    assert get_language("ru").script == "Cyrl"
    assert get_language("zh-TW").script == "Hant"
    assert get_language("th").script == "Thai"


@pytest.mark.parametrize("bad", ["xx", "qqq", "deu_Xyzw", "klingon"])
def test_unknown_code_is_a_clear_error(bad: str) -> None:
    with pytest.raises(LanguageError, match=repr(bad).strip("'")):
        normalize_language(bad)


@pytest.mark.parametrize("bad", ["", "   ", None])
def test_empty_code_is_an_error(bad) -> None:
    with pytest.raises(LanguageError):
        normalize_language(bad)


def test_language_without_flores_code() -> None:
    with pytest.raises(LanguageError, match="no FLORES-200"):
        to_flores("la")


def test_supported_languages_are_canonical() -> None:
    langs = supported_languages()
    assert len(langs) > 100
    assert all(normalize_language(code) == code for code in langs)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Der Hund läuft jeden Morgen schnell über die Straße zum Bäcker.", "de"),
        ("Mbwa anakimbia haraka barabarani kila asubuhi kwenda dukani.", "sw"),
        ("狗每天早上都跑得很快，穿过街道去面包店。", "zh"),
        ("Собака каждое утро быстро бежит через улицу в пекарню.", "ru"),
        ("الكلب يركض بسرعة عبر الشارع كل صباح.", "ar"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_detect_nothing_in_blank_text() -> None:
    assert detect_language("   ") is None

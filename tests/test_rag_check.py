"""The answer check: normalisation, EM/F1 across languages and scripts, response language, citations."""

from __future__ import annotations

import pytest

from clir_rag.errors import InputError, LanguageError
from clir_rag.rag.check import (
    LanguageVerdict,
    MatchScore,
    answer_tokens,
    best_match,
    exact_match,
    normalize_answer,
    response_language,
    token_f1,
)
from clir_rag.rag.citations import citations, strip_citations

pytestmark = pytest.mark.fast  # no LLM, server or index build: in the fast tier (make test-fast)


def test_english_articles_and_punctuation_are_dropped() -> None:
    assert normalize_answer("The  Eiffel-Tower, in Paris!", "en") == "eiffeltower in paris"
    assert exact_match("the Eiffel Tower.", "Eiffel Tower", "en") == 1.0
    assert exact_match("an apple", "apple", "eng") == 1.0  # any spelling of the language code
    # Without a language no articles are known, so "the" stays a token.
    assert exact_match("the Eiffel Tower", "Eiffel Tower") == 0.0
    assert token_f1("the Eiffel Tower", "Eiffel Tower") == pytest.approx(0.8)


def test_german_and_spanish_articles() -> None:
    assert normalize_answer("Der Rhein ist einer der längsten Flüsse.", "de") == "rhein ist längsten flüsse"
    assert exact_match("dem Rhein", "den Rhein", "de") == 1.0
    assert exact_match("dem Rhein", "den Rhein", "en") == 0.0  # German articles are not English ones
    assert exact_match("Los Andes", "los andes", "es") == 1.0 and normalize_answer("Los Andes", "es") == "andes"


def test_unicode_forms_and_case_compare_equal() -> None:
    assert exact_match("１９４５", "1945") == 1.0  # full-width digits, NFKC
    assert exact_match("Straße", "STRASSE") == 1.0  # casefold, not lower()
    assert exact_match("«Tesla»", "„Tesla“") == 1.0  # any Unicode punctuation
    assert normalize_answer("€100 − 5 °C") == "100 5 c"  # symbols go like SQuAD's ASCII $ and +
    assert normalize_answer("café") == normalize_answer("cafe\u0301")  # composed and decomposed accents


def test_unknown_language_code_is_an_error() -> None:
    with pytest.raises(LanguageError, match="xx-unknown"):
        normalize_answer("Tesla", "xx-unknown")


def test_chinese_is_scored_character_by_character() -> None:
    assert answer_tokens("1945年8月") == ["1945", "年", "8", "月"]
    assert answer_tokens("北京大学。") == ["北", "京", "大", "学"]
    # 北京大学 vs 清华大学: 大 and 学 overlap; precision = recall = 2/4, so F1 = 0.5.
    assert token_f1("北京大学", "清华大学", "zh") == pytest.approx(0.5)
    # 1945年 vs 1945年8月: 2 of 2 predicted tokens, 2 of 4 gold tokens: F1 = 2 * 1 * 0.5 / 1.5 = 2/3.
    assert token_f1("1945年", "1945年8月", "zh") == pytest.approx(2 / 3)
    assert exact_match("1945 年", "1945年", "zh") == 1.0  # spaces between characters carry nothing
    assert exact_match("北京大学", "清华大学", "zh") == 0.0


def test_thai_characters_keep_their_vowel_marks() -> None:
    # ุ (U+0E38) is a combining vowel sign: it belongs to ร, it is not a token of its own.
    assert answer_tokens("กรุงเทพ") == ["ก", "รุ", "ง", "เ", "ท", "พ"]
    # 6 shared tokens of 12 predicted and 6 gold: P = 0.5, R = 1, F1 = 2/3.
    assert token_f1("กรุงเทพมหานคร", "กรุงเทพ", "th") == pytest.approx(2 / 3)
    assert answer_tokens("๑๙๔๕") == ["๑๙๔๕"]  # Thai digits stay one number


def test_empty_answers() -> None:
    assert token_f1("", "") == 1.0 and exact_match("", "") == 1.0
    assert token_f1("Tesla", "") == 0.0 and token_f1("", "Tesla") == 0.0
    assert token_f1("...", "Tesla") == 0.0  # nothing left after normalisation


def test_best_match_over_golds_in_several_languages() -> None:
    golds = {"de": ["der Erfinder Nikola Tesla"], "en": ["Tesla", "the engineer Tesla"]}
    match = best_match("Nikola Tesla", golds, lang="en")
    # de gold normalises (German articles) to "erfinder nikola tesla": P = 1, R = 2/3 -> F1 0.8;
    # the best English gold "Tesla" gives P = 1/2, R = 1 -> F1 2/3.
    assert match == MatchScore(em=0.0, f1=pytest.approx(0.8), gold="der Erfinder Nikola Tesla", gold_lang="de")
    exact = best_match("Tesla", golds, lang="en")
    assert exact.em == 1.0 and exact.f1 == 1.0 and exact.gold == "Tesla" and exact.gold_lang == "en"


def test_best_match_prefers_the_answers_language_on_a_tie_and_normalises_codes() -> None:
    golds = {"deu_Latn": ["Tesla"], "eng": "Tesla"}  # a bare string is one answer, not five letters
    assert best_match("Tesla", golds, lang="en").gold_lang == "en"
    assert best_match("Tesla", golds, lang="de").gold_lang == "de"
    assert best_match("Tesla", golds).gold_lang == "de"  # no preference: the first given


def test_best_match_accepts_plain_golds() -> None:
    assert best_match("Tesla", "Nikola Tesla").f1 == pytest.approx(2 / 3)
    match = best_match("the Tesla", ["Edison", "Tesla"], lang="en")
    assert match.em == 1.0 and match.gold == "Tesla" and match.gold_lang is None


@pytest.mark.parametrize("golds", [[], {}, {"en": []}, ["", "  "], ""])
def test_best_match_without_a_gold_answer_raises(golds) -> None:
    with pytest.raises(InputError, match="no gold answer"):
        best_match("Tesla", golds)


def test_response_language_correct_and_wrong() -> None:
    german = "Er wurde in einem kleinen Dorf in Kroatien geboren [1]."
    english = "He was born in a small village in Croatia [1]."
    assert response_language(german, "de") == LanguageVerdict(detected="de", expected="de", correct=True)
    assert response_language(german, "eng") == LanguageVerdict(detected="de", expected="en", correct=False)
    assert response_language(english, "en").correct is True
    assert response_language(english, "deu_Latn") == LanguageVerdict(detected="en", expected="de", correct=False)


def test_response_language_undetermined_for_numbers_and_names() -> None:
    for text in ["1945", "[1] Tesla", "Nikola Tesla [1][2]", "", "1856–1943 [3]."]:
        verdict = response_language(text, "de")
        assert verdict.correct is None and verdict.detected is None, text
        assert verdict.expected == "de"
    # With the length threshold lowered lingua is asked, and its guess for a bare name is too unsure to count
    tesla = response_language("[1] Tesla", "en", min_chars=3)
    assert tesla.detected is not None and tesla.correct is None


def test_response_language_counts_chinese_characters_as_more_than_letters() -> None:
    # Nine Han characters: under 12 Latin letters, but a full sentence in Chinese.
    assert response_language("特斯拉于1856年出生。[1]", "zh") == LanguageVerdict("zh", "zh", True)
    assert response_language("东京", "zh").correct is None


def test_response_language_accepts_both_norwegian_written_forms_for_no() -> None:
    verdict = response_language("Han ble født i en liten landsby i Kroatia.", "no")
    assert verdict.expected == "nb" and verdict.detected in {"nb", "nn"} and verdict.correct is True


def test_citations_are_read_and_stripped() -> None:
    text = "Tesla [2][1, 3] was born in 1856 [1-3]; see 【4】 and [1945]."
    assert citations(text) == [2, 1, 3, 4]
    assert strip_citations(text) == "Tesla was born in 1856; see and [1945]."
    assert strip_citations("[1] Tesla") == "Tesla" and citations("[1] Tesla") == [1]
    assert strip_citations("Tesla [1].") == "Tesla." and citations("Tesla.") == []
    assert citations("[1–4]") == [1, 2, 3, 4] and citations("[ 2 ,5 ]") == [2, 5]
    # as small models write them, naming what the prompt numbered
    assert citations("Tu Youyou [Passage 1], [passage 2, 3]") == [1, 2, 3]
    assert strip_citations("Tu Youyou [Passage 1].") == "Tu Youyou." and citations("[Passagen 1]") == []
    # Citations must not cost a correct answer its exact match.
    assert exact_match(strip_citations("Nikola Tesla [1]"), "Nikola Tesla") == 1.0
    assert exact_match("Nikola Tesla [1]", "Nikola Tesla") == 0.0


def test_response_language_does_not_call_an_unsure_guess_wrong() -> None:
    # lingua's best guesses: Swedish 0.095 vs 0.072, Dutch 0.19 vs 0.13: too unsure to call the answers wrong
    for text, lang in [("He was born in Smiljan.", "en"), ("Er wurde in Smiljan geboren.", "de")]:
        verdict = response_language(text, lang)
        assert verdict.correct is None and verdict.detected not in (None, lang), (text, verdict)
        assert response_language(text, lang, min_margin=1.0).correct is False  # the margin decides
    sure = response_language("Die Forscherin Tu Youyou hat es entdeckt.", "en")
    assert sure.correct is False and sure.detected == "de"


def test_bracketed_numbers_beyond_the_context_are_answers_not_citations() -> None:
    assert strip_citations("[24]", max_number=3) == "[24]" and strip_citations("[24]") == ""
    assert strip_citations("It was 24 [2].", max_number=3) == "It was 24."
    assert citations("Tesla [2] won [24] times [1-3]", max_number=3) == [2, 1, 3]

"""The LLM translator on the embedded GGUF, and its fallback on bad answers."""

from pathlib import Path

import pytest

from clir_rag.llm import LLMClient
from clir_rag.testing.llm_faults import DOWN, FaultyLLM
from clir_rag.translate.llm_translator import LLMTranslator


def test_translates_with_the_embedded_model(local_llm, tmp_path: Path) -> None:
    translator = LLMTranslator(LLMClient(local_llm), cache=tmp_path / "t.sqlite")
    (out,) = translator.translate(["Der Hund schläft im Haus. Die Katze spielt im Garten."], "de", "en")
    assert out and out != "Der Hund schläft im Haus. Die Katze spielt im Garten."
    assert translator.stats.segments == 2 and translator.failures == 0
    assert any(w in out.lower() for w in ("dog", "cat", "house", "garden"))
    again = LLMTranslator(LLMClient(local_llm), cache=tmp_path / "t.sqlite")
    assert again.translate(["Der Hund schläft im Haus. Die Katze spielt im Garten."], "de", "en") == [out]
    assert again.stats.cache_hits == 2 and again.client.usage.calls == 0


@pytest.mark.fast
@pytest.mark.parametrize("answer", ["", "   ", DOWN], ids=["empty", "blank", "server-down"])
def test_bad_answers_fall_back_to_the_source_and_are_counted(answer) -> None:
    translator = LLMTranslator(LLMClient(FaultyLLM([answer], default="The cat plays."), max_retries=0))
    out = translator.translate(["Der Hund schläft. Die Katze spielt."], "de", "en")
    assert translator.failures >= 1 and translator.problems
    assert "Der Hund schläft." in out[0] or "Die Katze spielt." in out[0]


@pytest.mark.fast
def test_answer_labels_and_quotes_are_removed() -> None:
    translator = LLMTranslator(LLMClient(FaultyLLM(['Translation: "The dog sleeps."'])))
    assert translator.translate(["Der Hund schläft."], "de", "en") == ["The dog sleeps."]


@pytest.mark.fast
def test_answers_that_are_not_translations_fall_back_are_counted_and_retried(tmp_path) -> None:
    """Issue 14 item 11: refusals, offers, cut-off preambles and echoes counted as translations (failures=0)."""
    from clir_rag.translate.llm_translator import LLMTranslator

    sources = [
        "Mbwa analala nyumbani kwa amani.",
        "Kahawa hukua milimani mwa Kenya.",
        "Mto Nile ni mrefu sana barani Afrika.",
        "Simba ni mnyama mkubwa wa porini.",
        "Watoto wanacheza mpira uwanjani leo.",
        "Mvua kubwa ilinyesha jana usiku.",
    ]
    script = [
        "I can't assist with that.",
        "Yes, I can help you with that.",
        "The English translation is:",
        "Simba ni mnyama mkubwa wa porini.",  # echoed
        "Die Kinder spielen heute im Stadion Fussball.",  # German, not English
        "Heavy rain fell last night.",
    ]
    answer = dict(zip(sources, script, strict=True))
    llm = FaultyLLM([answer[s] for s in sorted(sources)])  # the translator asks in sorted order
    translator = LLMTranslator(llm, cache=tmp_path / "t.sqlite", sentence_level=False)
    out = translator.translate(sources, "sw", "en")
    assert out[:5] == sources[:5] and out[5] == "Heavy rain fell last night."
    assert translator.failures == 5
    reasons = " | ".join(translator.problems)
    for needle in ("refusal or offer", "preamble", "echoed back", "the answer is in de, not en"):
        assert needle in reasons
    again = FaultyLLM([], default="A good translation of the sentence.")
    retry = LLMTranslator(again, cache=tmp_path / "t.sqlite", sentence_level=False)
    retry.translate(sources, "sw", "en")
    assert again.calls == 5  # the failed five are asked again; the good one comes from the cache


@pytest.mark.fast
def test_two_translations_into_one_output_do_not_interleave(tmp_path) -> None:
    """Issue 14: one writer per translated corpus, as per index."""
    from clir_rag.errors import IndexLockedError
    from clir_rag.lock import WriterLock
    from clir_rag.translate.corpus import translate_corpus
    from clir_rag.translate.llm_translator import LLMTranslator
    from clir_rag.types import Document

    out = tmp_path / "translated.en.jsonl"
    docs = [Document(id="a", text="Mbwa analala nyumbani kwa amani.", lang="sw")]
    translator = LLMTranslator(FaultyLLM([], default="The dog sleeps at home in peace."))
    with WriterLock(tmp_path, name=".translated.en.jsonl.lock"):  # another run is writing it
        with pytest.raises(IndexLockedError, match=r"translated.en.jsonl is being written by another process"):
            translate_corpus(docs, translator, "en", out, progress=False)
    assert translate_corpus(docs, translator, "en", out, progress=False).translated == 1


@pytest.mark.fast
def test_strict_mode_raises_instead_of_handing_back_the_source() -> None:
    """For one passage a reader asked to see translated (the QA page), the source back would look translated."""
    from clir_rag.errors import LLMUnavailableError, TranslationOutputError

    source = "Der Hund schläft im Haus und träumt von großen Knochen."
    refusing = LLMTranslator(FaultyLLM(["I can't assist with that."]), sentence_level=False, strict=True)
    with pytest.raises(TranslationOutputError, match="no en translation: a refusal"):
        refusing.translate([source], "de", "en")
    echoing = LLMTranslator(FaultyLLM([source]), sentence_level=False, strict=True)
    with pytest.raises(TranslationOutputError, match="the source echoed back"):
        echoing.translate([source], "de", "en")
    down = LLMTranslator(FaultyLLM([DOWN]), sentence_level=False, strict=True)
    with pytest.raises(LLMUnavailableError):
        down.translate([source], "de", "en")
    good = LLMTranslator(FaultyLLM(["The dog sleeps in the house and dreams of big bones."]), strict=True)
    assert good.translate([source], "de", "en") == ["The dog sleeps in the house and dreams of big bones."]
    assert refusing.failures == echoing.failures == good.failures == 0  # raised, not counted as a fallback

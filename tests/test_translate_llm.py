"""The LLM translator on the embedded GGUF, and its fallback on bad answers."""

from pathlib import Path

import pytest

from clir_rag.llm import LLMClient
from clir_rag.translate.llm_translator import LLMTranslator
from tests.llm_faults import DOWN, FaultyLLM


def test_translates_with_the_embedded_model(local_llm, tmp_path: Path) -> None:
    translator = LLMTranslator(LLMClient(local_llm), cache=tmp_path / "t.sqlite")
    (out,) = translator.translate(["Der Hund schläft im Haus. Die Katze spielt im Garten."], "de", "en")
    assert out and out != "Der Hund schläft im Haus. Die Katze spielt im Garten."
    assert translator.stats.segments == 2 and translator.failures == 0
    assert any(w in out.lower() for w in ("dog", "cat", "house", "garden"))
    again = LLMTranslator(LLMClient(local_llm), cache=tmp_path / "t.sqlite")
    assert again.translate(["Der Hund schläft im Haus. Die Katze spielt im Garten."], "de", "en") == [out]
    assert again.stats.cache_hits == 2 and again.client.usage.calls == 0


@pytest.mark.parametrize("answer", ["", "   ", DOWN], ids=["empty", "blank", "server-down"])
def test_bad_answers_fall_back_to_the_source_and_are_counted(answer) -> None:
    translator = LLMTranslator(LLMClient(FaultyLLM([answer], default="The cat plays."), max_retries=0))
    out = translator.translate(["Der Hund schläft. Die Katze spielt."], "de", "en")
    assert translator.failures >= 1 and translator.problems
    assert "Der Hund schläft." in out[0] or "Die Katze spielt." in out[0]


def test_answer_labels_and_quotes_are_removed() -> None:
    translator = LLMTranslator(LLMClient(FaultyLLM(['Translation: "The dog sleeps."'])))
    assert translator.translate(["Der Hund schläft."], "de", "en") == ["The dog sleeps."]

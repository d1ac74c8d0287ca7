"""Answer generation and the cross-lingual RAG check, with the embedded GGUF on the demo corpus and XQuAD."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from clir_rag.cli import app
from clir_rag.errors import LLMTransientError, UnsupportedLanguageError
from clir_rag.rag.check import best_match
from clir_rag.rag.experiment import check_answer, load_rag_config, pick_questions, summarize, summary_markdown
from clir_rag.rag.generate import Answer, AnswerGenerator, answer_messages
from clir_rag.testing.llm_faults import FaultyLLM
from clir_rag.translate.base import Translator
from clir_rag.types import Query, Ranking, ScoredCandidate
from tests.conftest import XQUAD_ARTICLES


def _cand(i: int, text: str, doc: str | None = None, lang: str = "de") -> ScoredCandidate:
    return ScoredCandidate(id=f"p{i}", doc_id=doc or f"d{i}", score=1.0 / (i + 1), text=text, lang=lang)


def test_answers_an_english_question_from_foreign_passages(local_llm, artemisinin_candidates: Ranking) -> None:
    gen = AnswerGenerator(local_llm, top_k=3)
    query = Query(text="Who discovered the drug artemisinin against malaria?", lang="en")
    answer = gen.generate(query, artemisinin_candidates.candidates)
    assert answer.error is None and answer.text
    assert answer.lang == "en" and len(answer.passages) == 3 and answer.left_out == len(artemisinin_candidates) - 3
    assert {p.lang for p in answer.passages} != {"en"}  # the context is cross-lingual
    assert answer.usage.calls == 1 and answer.usage.prompt_tokens > 100
    assert best_match(answer.text, ["Tu Youyou"]).f1 > 0  # the discoverer is named in the German passage


def test_a_streamed_answer_hands_out_what_the_model_writes(
    local_llm, artemisinin_candidates: Ranking, tmp_path: Path
) -> None:
    from clir_rag.llm import LLMClient

    # a cache: the stream stores its reply, so the generate() below, which checks what does not depend on the
    # model's words (passages, language), reads it back instead of making the model write it a second time
    gen = AnswerGenerator(LLMClient(local_llm, cache=tmp_path / "llm.sqlite"), top_k=3)
    query = Query(text="Who discovered the drug artemisinin against malaria?", lang="en")
    stream = gen.stream(query, artemisinin_candidates.candidates)
    assert stream.answer is None  # nothing is generated before the stream is read
    pieces = list(stream)
    done = stream.answer
    assert done is not None and done.error is None and done.usage.calls >= 1
    # the pieces are what the model wrote; the answer's text replaces them when the model drifted language
    assert len(pieces) > 3 and "".join(pieces).strip() == (done.untranslated or done.text)
    assert done.language_fixed == (done.untranslated is not None)
    whole = gen.generate(query, artemisinin_candidates.candidates)
    assert [p.id for p in done.passages] == [p.id for p in whole.passages] and done.lang == whole.lang == "en"
    assert whole.usage.calls == 0 and whole.usage.cache_hits >= 1  # read back, not written a second time
    with pytest.raises(RuntimeError, match="read once"):
        list(stream)
    failing = AnswerGenerator(FaultyLLM([], default=LLMTransientError("simulated timeout")))
    failing.client.max_retries, failing.client.backoff = 0, 0.0
    broken = failing.stream(query, [_cand(0, "Tu Youyou entdeckte Artemisinin.")])
    assert list(broken) == [] and broken.answer is not None and broken.answer.llm_failed  # recorded, not raised


def test_answer_language_follows_the_query_or_the_setting(local_llm) -> None:
    gen = AnswerGenerator(local_llm)
    assert gen.target_language(Query(text="Wer hat das Penicillin entdeckt?")) == "de"  # detected
    assert gen.target_language(Query(text="Who?", lang="sw")) == "sw"
    assert AnswerGenerator(local_llm, answer_lang="fr").target_language(Query(text="Who?", lang="en")) == "fr"
    prompt = answer_messages("Wer?", ["Text eins", "Text zwei"], "de")
    assert "German" in prompt[0]["content"] and "Passage 2: Text zwei" in prompt[1]["content"]


def test_context_budget_shortens_only_a_long_first_passage(local_llm) -> None:
    long = " ".join(f"Satz {i} handelt vom Rhein und seinen Ufern." for i in range(200))
    gen = AnswerGenerator(local_llm, top_k=3, context_tokens=160)
    query = Query(text="What about the Rhine?", lang="en")
    passages, left_out, shortened = gen.build(query, [_cand(0, long), _cand(1, "Kurz."), _cand(2, long)])
    assert shortened and len(passages) == 1 and left_out == 2
    assert long.startswith(passages[0].text) and len(passages[0].text) < len(long)
    prompt = "".join(m["content"] for m in answer_messages(query.text, [passages[0].text], "en"))
    assert local_llm.count_tokens(prompt) <= 160 + 8  # the budget holds, up to joining whitespace
    short = [_cand(0, "Der Rhein ist lang."), _cand(1, long), _cand(2, "Kurz.")]
    passages, left_out, shortened = gen.build(query, short)
    assert [p.id for p in passages] == ["p0"] and not shortened  # a later long passage is not cut, just left out


def test_empty_context_and_failed_calls_are_recorded_not_raised(local_llm) -> None:
    query = Query(text="Who discovered artemisinin?", lang="en")
    answer = AnswerGenerator(local_llm).generate(query, [])
    assert answer.error and "empty context" in answer.error and answer.usage.calls == 0
    blank = AnswerGenerator(local_llm).generate(query, [_cand(0, "   ")])
    assert blank.error and "empty context" in blank.error
    failing = FaultyLLM([], default=LLMTransientError("simulated timeout"))  # every call times out
    gen = AnswerGenerator(failing)
    gen.client.max_retries, gen.client.backoff = 1, 0.0
    answers = gen.generate_many([(query, [_cand(0, "Tu Youyou entdeckte Artemisinin.")])] * 2)
    assert [a.error is not None and "LLM call failed" in a.error for a in answers] == [True, True]
    assert failing.calls == 4  # each question tried twice (one retry), the batch went on


WRONG = "Die Forscherin Tu Youyou hat das Artemisinin im Jahr 1972 entdeckt [1]."
RIGHT = "The researcher Tu Youyou discovered artemisinin in 1972."
STILL_WRONG = "Die Forscherin Tu Youyou hat das Artemisinin entdeckt."


class NoGermanTranslator(Translator):
    """Fault injection: a translator that lacks the answer's language (as an NMT model may)."""

    name = "no-german"

    def check_languages(self, src: str, tgt: str) -> None:
        raise UnsupportedLanguageError(f"no {src}")

    def translate_segments(self, segments: Sequence[str], src: str, tgt: str) -> list[str]:
        raise AssertionError("never reached")


@pytest.mark.fast
@pytest.mark.parametrize(
    ("replies", "fix", "calls", "kept", "fixed", "lang_ok"),
    [
        ((WRONG, RIGHT), True, 2, RIGHT + " [1]", True, True),  # German answer translated, citation carried over
        ((WRONG, STILL_WRONG), True, 2, WRONG, False, False),  # the "translation" is German too: the answer stands
        ((RIGHT + " [1]",), True, 1, RIGHT + " [1]", False, True),  # right language: no second call
        (("1972 [1]",), True, 1, "1972 [1]", False, None),  # too short to tell: left alone
        ((WRONG, RIGHT), False, 1, WRONG, False, False),  # fix_language off
    ],
)
def test_an_answer_in_the_wrong_language_is_translated(
    replies: tuple[str, ...], fix: bool, calls: int, kept: str, fixed: bool, lang_ok: bool | None
) -> None:
    llm = FaultyLLM(list(replies), default=replies[-1])  # a real model drifts, but not on demand
    query = Query(text="Who discovered artemisinin?", lang="en")
    answer = AnswerGenerator(llm, fix_language=fix).generate(query, [_cand(0, "Tu Youyou entdeckte Artemisinin.")])
    assert len(llm.seen) == calls and answer.text == kept and answer.language_fixed is fixed
    assert answer.wrong_language is (calls == 2) and answer.untranslated == (WRONG if fixed else None)
    if calls == 2:  # the second call is a translation of the answer without its citation, German to English
        prompt = llm.seen[1][-1]["content"]
        assert "German text into English" in prompt and prompt.endswith("\n\n" + WRONG.replace(" [1]", ""))
    row = check_answer(answer, {"en": ["Tu Youyou"]}, {"d0"})
    assert row.wrong_language is answer.wrong_language and row.language_fixed is fixed
    assert row.lang_correct is lang_ok
    summary = summarize([row])
    assert summary["language_fixed"] == int(fixed) and summary["wrong_language_generated"] == int(calls == 2)


@pytest.mark.fast
def test_a_translator_that_lacks_the_language_leaves_the_answer_counted() -> None:
    llm = FaultyLLM([WRONG])
    gen = AnswerGenerator(llm, translator=NoGermanTranslator())
    answer = gen.generate(Query(text="Who discovered artemisinin?", lang="en"), [_cand(0, "Tu Youyou.")])
    assert answer.text == WRONG and answer.wrong_language and not answer.language_fixed and len(llm.seen) == 1


@pytest.mark.fast
def test_check_and_summary_count_what_they_cannot_score() -> None:
    q = Query(id="q1", text="Who discovered artemisinin?", lang="en")
    ctx = [_cand(0, "Tu Youyou entdeckte Artemisinin.", doc="de:1")]
    good = check_answer(Answer(q, "Tu Youyou discovered it [1]", "en", ctx), {"en": ["Tu Youyou"]}, {"de:1"})
    assert good.em == 0.0 and 0.5 < good.f1 < 1.0 and good.hit and good.cited == [1]
    assert good.lang_correct is True and good.lang_detected == "en"
    exact = check_answer(Answer(q, "Tu Youyou [1]", "en", ctx), {"de": ["Tu Youyou"], "en": ["Youyou"]}, set())
    assert exact.em == 1.0 and exact.gold_lang == "de" and not exact.hit
    assert exact.lang_correct is None  # a bare name cannot be attributed to a language
    wrong_lang = check_answer(Answer(q, "Die Forscherin Tu Youyou hat es entdeckt.", "en", ctx), ["Tu Youyou"], set())
    assert wrong_lang.lang_correct is False and wrong_lang.lang_detected == "de"
    no_gold = check_answer(Answer(q, "Tu Youyou", "en", ctx), None, {"de:1"})
    assert no_gold.f1 is None and no_gold.problems == ["no gold answer"]
    bracketed = check_answer(Answer(q, "[24]", "en", ctx), ["24"], {"de:1"})
    assert bracketed.em == 1.0 and bracketed.cited == []  # one passage in context: [24] is the answer itself
    bare = check_answer(Answer(q, "[1]", "en", ctx), ["Tu Youyou"], {"de:1"})
    assert bare.f1 == 0.0 and bare.cited == [1] and bare.problems == ["answer holds nothing but citations"]
    failed = check_answer(Answer(q, "", "en", [], error="empty context: nothing"), ["Tu Youyou"], {"de:1"})
    assert failed.f1 == 0.0 and not failed.hit

    summary = summarize([good, exact, wrong_lang, no_gold, failed])
    assert summary["questions"] == 5 and summary["answered"] == 4 and summary["scored"] == 4
    assert summary["answer_errors"] == {"empty context": 1} and summary["problems"] == {"no gold answer": 1}
    assert summary["f1"] == pytest.approx((good.f1 + 1.0 + wrong_lang.f1 + 0.0) / 4)
    assert summary["language_determined"] == 2 and summary["language_accuracy"] == 0.5
    assert summary["retrieval_hit_rate"] == pytest.approx(2 / 5)
    table = summary_markdown("t", summary)
    assert "| answer token F1 |" in table and "4 of 5 questions" in table and "too short or unsure to tell" in table


@pytest.mark.shared_data
def test_rag_check_cli_on_xquad_with_the_embedded_model(
    shared_data: Path, tmp_path: Path, local_llm, xquad_de_index: Path
) -> None:
    shutil.copytree(xquad_de_index, tmp_path / "idx" / "xquad-de-a12-p256")  # the session's: nothing to embed
    config = tmp_path / "rag.yaml"
    cfg = yaml.safe_load((Path(__file__).parents[1] / "evals" / "rag-xquad-en-de.yaml").read_text())
    # two questions: enough to check the means against the rows; each answer is seconds of the embedded model
    cfg.update(limit=2, data=str(shared_data), work=str(tmp_path / "idx"))
    cfg["dataset"]["articles"] = XQUAD_ARTICLES  # the articles the session's index holds
    config.write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(app, ["rag-check", str(config), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "response-language accuracy" in res.output
    rows = [json.loads(line) for line in (tmp_path / "out" / "answers.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["answer_lang"] == "en" and r["query_lang"] == "en" for r in rows)
    assert all(r["context"] and all(d.startswith("de:") for d in r["context"]) for r in rows)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["questions"] == 2 and summary["retrieval_hit_rate"] == pytest.approx(sum(r["hit"] for r in rows) / 2)
    assert summary["llm_usage"]["calls"] + summary["llm_usage"]["cache_hits"] == 2
    assert summary["f1"] == pytest.approx(sum(r["f1"] for r in rows) / 2)
    # issue 14: ``work`` holds indexes, one per collection and passage length, as in the eval configs
    assert [p.name for p in (tmp_path / "idx").iterdir()] == ["xquad-de-a12-p256"]


@pytest.mark.fast
def test_questions_are_the_first_n_or_spread_over_the_collection(tmp_path: Path) -> None:
    qs = [Query(id=f"q{i}", text=f"question {i}") for i in range(10)]
    assert [q.id for q in pick_questions(qs, 3)] == ["q0", "q1", "q2"]
    assert [q.id for q in pick_questions(qs, 3, "spread")] == ["q0", "q3", "q6"]
    assert pick_questions(qs, None) == qs and pick_questions(qs, 50, "spread") == qs
    config = Path(__file__).parents[1] / "evals" / "rag-xquad-en-de.yaml"
    with pytest.raises(Exception, match="sample: Input should be 'first' or 'spread'"):
        load_rag_config(config, sample="random")


@pytest.mark.fast
def test_packaged_rag_configs_parse() -> None:
    for path in sorted((Path(__file__).parents[1] / "evals").glob("rag-*.yaml")):
        cfg = load_rag_config(path)
        assert cfg.name == path.stem and cfg.dataset.type == "xquad"
    with pytest.raises(Exception, match="not found"):
        load_rag_config("no-such.yaml")


# --- the ragas judge ---------------------------------------------------------------------------------------------


@pytest.mark.fast
def test_judge_reply_parsing_names_the_problem() -> None:
    from pydantic import BaseModel

    from clir_rag.rag.judge import JudgeOutputError, parse_json_reply

    class Out(BaseModel):
        statements: list[str]

    assert parse_json_reply('Sure!\n```json\n{"statements": ["a", "b"]}\n```', Out).statements == ["a", "b"]
    assert parse_json_reply('Here: {"statements": []} hope it helps {', Out).statements == []
    with pytest.raises(JudgeOutputError, match="no JSON object"):
        parse_json_reply("I cannot do that.", Out)
    with pytest.raises(JudgeOutputError, match="not valid JSON"):
        parse_json_reply('{"statements": ["a",', Out)
    with pytest.raises(JudgeOutputError, match=r"does not fit Out \(statements"):
        parse_json_reply('{"claims": ["a"]}', Out)


@pytest.mark.parametrize(
    ("reply", "reason"), [("The answer looks great!!", "no JSON object"), ('{"verdict": "yes"}', "does not fit")]
)
def test_a_garbage_judge_is_counted_never_averaged(reply: str, reason: str, encoder) -> None:
    pytest.importorskip("ragas")
    from clir_rag.rag.judge import RagasJudge

    llm = FaultyLLM([], default=reply)  # a judge that answers garbage or off-schema JSON
    judge = RagasJudge(llm, encoder=encoder)
    q = Query(id="q1", text="Who discovered artemisinin?", lang="en")
    ctx = [_cand(0, "Tu Youyou entdeckte Artemisinin.", doc="de:1")]
    rows = [
        check_answer(Answer(q, "Tu Youyou [1]", "en", ctx), {"en": ["Tu Youyou"]}, {"de:1"}, judge),
        check_answer(Answer(q, "Tu Youyou", "en", ctx), None, {"de:1"}, judge),  # no gold: no correctness call
    ]
    assert rows[0].judge == {"faithfulness": None, "answer_correctness": None}
    assert all(p.startswith("judge ") and reason in p for p in rows[0].problems)
    assert "no gold answer" in rows[1].problems[-1] and rows[1].judge["answer_correctness"] is None
    assert llm.calls == 2 * 3  # first prompt of each metric asked twice (one re-ask), for 3 metric runs
    summary = summarize(rows)
    assert summary["faithfulness"] is None and summary["faithfulness_failed"] == 2
    assert summary["answer_correctness_failed"] == 2 and summary["f1"] == 1.0  # the string match still counts
    assert "0 judged, 2 failed" in summary_markdown("t", summary)


def test_the_embedded_model_as_ragas_judge(local_llm, encoder) -> None:
    pytest.importorskip("ragas")
    from clir_rag.rag.judge import RagasJudge

    judge = RagasJudge(local_llm, encoder=encoder)
    scores = judge.score(
        "On which day did the Berlin Wall open?",
        "The Berlin Wall opened on 9 November 1989.",
        [
            "Die Berliner Mauer trennte von 1961 bis 1989 Ost- und West-Berlin. Am 9. November 1989 öffnete die DDR "
            "die Grenze."
        ],
        "9 November 1989",
    )
    assert set(scores.values) == {"faithfulness", "answer_correctness"}
    for name, value in scores.values.items():  # a 0.5B judge: a score, or a failure with its reason
        assert (value is not None and 0.0 <= value <= 1.0) or scores.errors[name]
    assert any(v is not None for v in scores.values.values())
    assert judge.client.usage.calls >= 2

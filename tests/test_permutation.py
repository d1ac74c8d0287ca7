import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clir_rag.rerank.permutation import parse_permutation

pytestmark = pytest.mark.fast  # no LLM, server or index build: in the fast tier (make test-fast)


def test_clean_answer_is_ok() -> None:
    parsed = parse_permutation("[2] > [3] > [1]", 3)
    assert parsed.order == [1, 2, 0] and parsed.outcome == "ok" and not parsed.problems


def test_reasoning_and_prose_are_ignored() -> None:
    text = "<think>[1] mentions the query, [3] not.</think>\nSure! The ranking is: [1] > [3] > [2]. Hope it helps."
    assert parse_permutation(text, 3).order == [0, 2, 1]
    assert parse_permutation(text, 3).outcome == "ok"


def test_longest_chain_wins_over_cited_ids() -> None:
    text = "Passage [4] is off topic. Final: [3] > [1] > [2] > [4]"
    assert parse_permutation(text, 4).order == [2, 0, 1, 3]


def test_duplicates_out_of_range_and_missing_are_repaired() -> None:
    parsed = parse_permutation("[3] > [3] > [9] > [1]", 4)
    assert parsed.order == [2, 0, 1, 3]
    assert parsed.outcome == "repaired"
    assert any("repeated" in p for p in parsed.problems)
    assert any("out of range" in p for p in parsed.problems)
    assert any("missing" in p for p in parsed.problems)


def test_bare_numbers_are_accepted_as_repair() -> None:
    parsed = parse_permutation("2 > 1 > 3", 3)
    assert parsed.order == [1, 0, 2] and parsed.outcome == "repaired"


def test_empty_and_garbage_fail_keeping_input_order() -> None:
    for text in ["", "   ", "I cannot help with that.", "<think>[2] > [1]"]:
        parsed = parse_permutation(text, 3)
        assert parsed.order == [0, 1, 2] and parsed.outcome == "failed"


@given(st.text(), st.integers(min_value=0, max_value=40))
@settings(max_examples=400)
def test_any_string_gives_a_permutation(text: str, n: int) -> None:
    parsed = parse_permutation(text, n)
    assert sorted(parsed.order) == list(range(n))
    assert parsed.outcome in {"ok", "repaired", "failed"}


@given(
    st.lists(st.integers(min_value=-3, max_value=30), max_size=40),
    st.integers(min_value=1, max_value=25),
    st.sampled_from([" > ", ">", ", ", " → "]),
    st.text(max_size=30),
)
@settings(max_examples=400)
def test_any_id_sequence_with_noise_gives_a_permutation(ids: list[int], n: int, sep: str, noise: str) -> None:
    text = noise + sep.join(f"[{i}]" for i in ids) + noise
    parsed = parse_permutation(text, n)
    assert sorted(parsed.order) == list(range(n))
    # one clean chain: the valid ids, first mentions, lead in their order
    if min(ids, default=0) >= 0 and "[" not in noise and "]" not in noise and not any(c.isdigit() for c in noise):
        expected = []
        for i in ids:
            if 1 <= i <= n and i - 1 not in expected:
                expected.append(i - 1)
        assert parsed.order[: len(expected)] == expected


def test_full_width_and_cjk_bracket_answers_parse_as_ascii_ones() -> None:
    # what models prompted in Chinese or Japanese write: full-width brackets, digits and '＞', or 【】
    for text in [
        "［２］ ＞ ［１］ ＞ ［３］",
        "排序结果：【2】>【1】>【3】",
        "〔２〕＞〔１〕＞〔３〕",
        "［2］、［1］、［3］",
    ]:
        parsed = parse_permutation(text, 3)
        assert (parsed.order, parsed.outcome, parsed.problems) == ([1, 0, 2], "ok", []), text
    assert parse_permutation("［１２］ ＞ ［３］", 12).order[:2] == [11, 2]  # two full-width digits are 12


def test_listwise_reranker_applies_a_full_width_answer() -> None:
    from clir_rag.llm import LLMClient
    from clir_rag.rerank import ListwiseReranker
    from clir_rag.testing.llm_faults import FaultyLLM
    from clir_rag.types import Query, Ranking, ScoredCandidate

    # a scripted model: a real one cannot be made to answer in full-width forms on demand
    llm = FaultyLLM(["［３］ ＞ ［１］ ＞ ［２］"])
    candidates = [ScoredCandidate(id=f"p{i}", doc_id=f"d{i}", score=1.0 - i / 10, text=f"text {i}") for i in range(3)]
    ranking = Ranking(query=Query(text="东京塔有多高？", lang="zh"), candidates=candidates)
    result = ListwiseReranker(LLMClient(llm, max_retries=0), window=3, step=1).rerank(ranking)
    assert [c.id for c in result.ranking.candidates] == ["p2", "p0", "p1"]
    assert result.report.windows_ok == 1 and result.report.windows_failed == 0

from pathlib import Path

import pytest

from clir_rag.errors import LLMError, LLMUnavailableError
from clir_rag.llm import LLMClient, SqliteCache, Usage
from clir_rag.rerank import ListwiseReranker, PairwiseReranker
from clir_rag.testing.llm_faults import DOWN, TRANSIENT, FaultyLLM
from clir_rag.types import Query, Ranking, ScoredCandidate

MSG = [{"role": "user", "content": "hi"}]


def _ranking(n: int = 6) -> Ranking:
    return Ranking(
        query=Query(text="q"),
        candidates=[
            ScoredCandidate(id=f"p{i}", doc_id=f"d{i}", score=1 - i / 10, text=f"passage number {i}") for i in range(n)
        ],
    )


@pytest.mark.fast
def test_transient_errors_are_retried_with_bounded_attempts() -> None:
    llm = FaultyLLM([TRANSIENT, TRANSIENT, "ok"])
    client = LLMClient(llm, max_retries=2, backoff=0.0)
    usage = Usage()
    assert client.generate(MSG, usage=usage).text == "ok"
    assert (usage.calls, usage.retries, usage.failures) == (3, 2, 0)
    llm = FaultyLLM([TRANSIENT] * 10)
    client = LLMClient(llm, max_retries=2, backoff=0.0)
    with pytest.raises(LLMError, match="gave up after 3 tries"):
        client.generate(MSG)
    assert llm.calls == 3 and client.usage.failures == 1


@pytest.mark.fast
def test_timeout_is_a_transient_failure(tmp_path: Path) -> None:
    client = LLMClient(FaultyLLM([0.5, 0.5]), timeout=0.05, max_retries=1, backoff=0.0)
    with pytest.raises(LLMError, match="no answer within"):
        client.generate(MSG)
    assert client.usage.retries == 1 and client.usage.failures == 1


@pytest.mark.fast
def test_unavailable_backend_fails_once_then_fast() -> None:
    llm = FaultyLLM([DOWN])
    client = LLMClient(llm, max_retries=5, backoff=10.0)
    with pytest.raises(LLMUnavailableError, match="connection refused"):
        client.generate(MSG)
    with pytest.raises(LLMUnavailableError, match="connection refused"):
        client.generate(MSG)
    assert llm.calls == 1  # the circuit is open: no second attempt, no backoff wait
    client.reset_availability()
    assert client.generate(MSG).text == ""


@pytest.mark.fast
def test_cache_makes_repeats_free_and_persists(tmp_path: Path) -> None:
    llm = FaultyLLM(["first answer"], default="other")
    client = LLMClient(llm, cache=tmp_path / "cache.sqlite")
    assert client.generate(MSG, max_tokens=5).text == "first answer"
    again = LLMClient(llm, cache=tmp_path / "cache.sqlite")
    usage = Usage()
    assert again.generate(MSG, max_tokens=5, usage=usage).text == "first answer"
    assert usage.cache_hits == 1 and usage.calls == 0 and llm.calls == 1
    assert again.generate(MSG, max_tokens=6).text == "other"  # other decoding parameters, other key
    assert len(SqliteCache(tmp_path / "cache.sqlite")) == 2


def test_the_old_cache_name_still_works_and_warns() -> None:
    import clir_rag.cache
    import clir_rag.llm
    import clir_rag.llm.cache

    for module in (clir_rag.cache, clir_rag.llm, clir_rag.llm.cache):
        with pytest.warns(
            DeprecationWarning, match=rf"{module.__name__}\.LLMCache is deprecated: use SqliteCache"
        ) as got:
            assert module.LLMCache is SqliteCache
        assert got[0].filename == __file__  # the warning points at the line that used the old name
        assert "LLMCache" not in getattr(module, "__all__", [])
    with pytest.warns(DeprecationWarning, match="LLMCache"):
        from clir_rag.llm import LLMCache  # noqa: F401  (the import form users have)
    with pytest.raises(AttributeError):
        clir_rag.cache.NoSuchCache  # noqa: B018  (only the old names are offered)


@pytest.mark.fast
def test_sampled_answers_are_not_cached(tmp_path: Path) -> None:
    llm = FaultyLLM(["a", "b"])
    client = LLMClient(llm, cache=tmp_path / "c.sqlite")
    client.generate(MSG, temperature=0.7)
    assert client.generate(MSG, temperature=0.7).text == "b"


@pytest.mark.fast
@pytest.mark.parametrize(
    "answers", [[""], ["I'd rather not."], [TRANSIENT], [DOWN]], ids=["empty", "garbage", "transient", "down"]
)
def test_listwise_batch_completes_when_windows_fail(answers: list) -> None:
    llm = FaultyLLM(list(answers), default="[2] > [1]")
    reranker = ListwiseReranker(LLMClient(llm, max_retries=0, backoff=0.0), window=4, step=2, depth=6)
    result = reranker.rerank(_ranking())
    report = result.report
    assert report.windows_failed >= 1
    assert report.windows_ok + report.windows_repaired + report.windows_failed == 2
    assert sorted(result.ranking.ids) == [f"p{i}" for i in range(6)]
    assert [c.score for c in result.ranking] == [6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    assert report.problems


@pytest.mark.fast
def test_pairwise_batch_completes_with_failures_counted() -> None:
    # every other answer is unreadable; the first of each pair names A
    llm = FaultyLLM([], default="Passage A")
    llm.script = ["Passage A", "banana"] * 40
    reranker = PairwiseReranker(LLMClient(llm), method="allpairs", mode="generate", depth=4)
    result = reranker.rerank(_ranking(4))
    assert result.report.comparisons == 6
    assert result.report.comparison_failures == 6
    assert result.report.ties == 0  # one readable vote per pair decides it
    assert sorted(result.ranking.ids) == ["p0", "p1", "p2", "p3"]


@pytest.mark.fast
def test_position_bias_becomes_ties() -> None:
    llm = FaultyLLM([], default="Passage A")  # always the first shown
    result = PairwiseReranker(LLMClient(llm), method="heap", mode="generate", depth=5, top_k=2).rerank(_ranking(5))
    assert result.report.ties == result.report.comparisons > 0
    assert result.ranking.ids == ["p0", "p1", "p2", "p3", "p4"]  # ties keep the first-stage order


@pytest.mark.fast
def test_pairwise_logprob_mode_needs_a_scoring_backend() -> None:
    with pytest.raises(ValueError, match="cannot score labels"):
        PairwiseReranker(FaultyLLM([]), mode="logprob")


@pytest.mark.fast
def test_prompts_fit_a_small_context_window() -> None:
    llm = FaultyLLM([], default="[1] > [2]")
    llm.context_window = 400
    long = Ranking(
        query=Query(text="q"),
        candidates=[
            ScoredCandidate(id=f"p{i}", doc_id=f"d{i}", score=1 - i / 10, text="word " * 2000) for i in range(4)
        ],
    )
    listwise = ListwiseReranker(LLMClient(llm), window=4, step=2, depth=4)
    messages = listwise.build_messages("q", [c.text for c in long.candidates])
    assert sum(llm.count_tokens(m["content"]) for m in messages) + listwise._max_new_tokens(4) <= 400
    pairwise = PairwiseReranker(LLMClient(llm), mode="generate")
    messages = pairwise.build_messages("q", long.candidates[0].text, long.candidates[1].text)
    assert llm.count_tokens(messages[0]["content"]) + 8 <= 400
    llm.context_window = 60
    with pytest.raises(ValueError, match="does not fit a 60-token context"):
        listwise.build_messages("q", [c.text for c in long.candidates])
    with pytest.raises(ValueError, match="does not fit a 60-token context"):
        pairwise.build_messages("q", "a", "b")


def test_a_stream_that_breaks_is_retried_only_before_its_first_piece(tmp_path: Path) -> None:
    """A server that drops the connection mid-answer (fault injected by a fake server; a real one cannot be made to)."""
    pytest.importorskip("openai")
    from clir_rag.llm.openai_backend import OpenAICompatibleLLM
    from clir_rag.testing.llm_faults import GarbleServer

    answer = "Tu Youyou hat das Artemisinin entdeckt [1]."
    broken, at_once, whole = (
        GarbleServer([answer], break_after=2),
        GarbleServer([answer], break_after=0),
        GarbleServer([answer]),
    )
    try:
        client = LLMClient(OpenAICompatibleLLM("m", base_url=broken.url), cache=tmp_path / "c.sqlite", backoff=0.0)
        pieces: list[str] = []
        with pytest.raises(LLMError, match=r"stream broke after 2 pieces: .*the answer stream broke"):
            pieces.extend(client.stream(MSG))
        assert pieces == ["Tu", " Youyou"] and broken.calls == [1]  # what was handed out is not asked again
        assert client.usage.failures == 1 and client.cache is not None and len(client.cache) == 0
        client = LLMClient(OpenAICompatibleLLM("m", base_url=at_once.url), max_retries=2, backoff=0.0)
        with pytest.raises(LLMError, match="gave up after 3 tries"):
            list(client.stream(MSG))
        assert at_once.calls == [3] and client.usage.retries == 2
        client = LLMClient(OpenAICompatibleLLM("m", base_url=whole.url), cache=tmp_path / "c.sqlite")
        assert "".join(client.stream(MSG)) == answer and client.generate(MSG).text == answer
        assert whole.calls == [1]  # the streamed answer was cached whole, and generate found it
    finally:
        for server in (broken, at_once, whole):
            server.close()


@pytest.mark.fast
def test_a_backend_that_cannot_stream_gives_one_piece_and_the_breaker_holds() -> None:
    llm = FaultyLLM(["Tu Youyou [1].", DOWN, "never"])
    client = LLMClient(llm, backoff=0.0)
    assert list(client.stream(MSG)) == ["Tu Youyou [1]."]
    with pytest.raises(LLMUnavailableError):
        list(client.stream(MSG + MSG))
    with pytest.raises(LLMUnavailableError):
        list(client.stream(MSG + MSG + MSG))
    assert llm.calls == 2  # the backend found down is not called again

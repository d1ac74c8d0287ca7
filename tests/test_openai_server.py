"""The OpenAI-compatible backend against a real llama.cpp server started on 127.0.0.1."""

import asyncio
import time

import pytest

pytest.importorskip("openai")
pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server]")

from clir_rag.errors import LLMUnavailableError
from clir_rag.llm import LLMClient, Usage
from clir_rag.llm.openai_backend import OpenAICompatibleLLM
from clir_rag.rerank import ListwiseReranker, PairwiseReranker
from clir_rag.testing.servers import free_port
from clir_rag.types import Query


def test_generate_through_the_server(llm_server: str) -> None:
    llm = OpenAICompatibleLLM("qwen", base_url=llm_server, api_key="none")
    out = llm.generate([{"role": "user", "content": "Reply with the single word: yes"}], max_tokens=4)
    assert out.text.strip() and out.prompt_tokens > 5 and out.completion_tokens >= 1


def test_label_scores_through_the_server(llm_server: str) -> None:
    llm = OpenAICompatibleLLM("qwen", base_url=llm_server)
    scores = llm.score_labels(
        [
            {
                "role": "user",
                "content": 'Which passage is about bees? Passage A: "Bees make honey." '
                'Passage B: "The Rhine is a river." Output Passage A or Passage B:',
            }
        ],
        ["Passage A", "Passage B"],
    )
    assert set(scores) == {"Passage A", "Passage B"}
    assert max(scores.values()) > -20


def test_rerankers_through_the_server(llm_server: str, artemisinin_candidates) -> None:
    client = LLMClient(OpenAICompatibleLLM("qwen", base_url=llm_server), concurrency=2)
    listwise = ListwiseReranker(client, window=5, step=3, depth=5, max_passage_tokens=50).rerank(artemisinin_candidates)
    assert sorted(listwise.ranking.ids[:5]) == sorted(artemisinin_candidates.ids[:5])
    assert listwise.report.usage.calls == 1
    pairwise = PairwiseReranker(client, method="allpairs", mode="generate", depth=3, max_passage_tokens=50)
    result = asyncio.run(pairwise.arerank(artemisinin_candidates))
    assert result.report.comparisons == 3 and result.report.usage.calls == 6
    assert sorted(result.ranking.ids[:3]) == sorted(artemisinin_candidates.ids[:3])


def test_server_down_is_one_clear_error_and_the_batch_completes(artemisinin_candidates) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    client = LLMClient(OpenAICompatibleLLM("qwen", base_url=url), max_retries=3, backoff=5.0)
    start = time.monotonic()
    with pytest.raises(LLMUnavailableError, match="cannot reach the OpenAI-compatible server"):
        client.generate([{"role": "user", "content": "hi"}])
    result = ListwiseReranker(client, window=3, step=2, depth=6).rerank(artemisinin_candidates)
    assert time.monotonic() - start < 5  # no backoff waits: the circuit is open after the first refusal
    assert result.report.windows_failed == 3
    assert result.ranking.ids == artemisinin_candidates.ids  # failed windows keep the first-stage order


def test_timeout_against_the_real_server(llm_server: str, artemisinin_candidates) -> None:
    client = LLMClient(OpenAICompatibleLLM("qwen", base_url=llm_server, timeout=0.01), max_retries=1, backoff=0.0)
    result = ListwiseReranker(client, window=5, step=5, depth=5).rerank(artemisinin_candidates)
    assert result.report.windows_failed == 1 and result.report.usage.retries == 1
    assert any("timed out" in p for p in result.report.problems)


def test_llamaindex_llm_adapter_drives_a_reranker(llm_server: str, artemisinin_candidates) -> None:
    openai_like = pytest.importorskip("llama_index.llms.openai_like")
    from llama_index.postprocessor.clir_rag.backend import LlamaIndexLLM

    li_llm = openai_like.OpenAILike(
        model="qwen",
        api_base=llm_server,
        api_key="none",
        is_chat_model=True,
        context_window=4096,
        max_tokens=64,
        temperature=0.0,
    )
    llm = LlamaIndexLLM(li_llm)
    assert llm.context_window == 4096 and llm.model.startswith("OpenAILike")
    out = llm.generate([{"role": "user", "content": "Reply with: [1] > [2]. Then stop."}], stop=["\n\n"])
    assert out.text.strip()
    result = ListwiseReranker(LLMClient(llm), window=4, step=2, depth=4, max_passage_tokens=40).rerank(
        artemisinin_candidates
    )
    assert sorted(result.ranking.ids[:4]) == sorted(artemisinin_candidates.ids[:4])
    assert result.report.usage.calls == 1
    # the postprocessor takes the LlamaIndex LLM as it is
    from llama_index.core.schema import NodeWithScore, TextNode
    from llama_index.postprocessor.clir_rag import ListwiseLLMRerank

    nodes = [NodeWithScore(node=TextNode(text=c.text, id_=c.id), score=c.score) for c in artemisinin_candidates][:3]
    out = ListwiseLLMRerank(li_llm, window=3, step=1, depth=3, max_passage_tokens=40).postprocess_nodes(
        nodes, query_str="Who discovered artemisinin?"
    )
    assert {n.node.node_id for n in out} == {n.node.node_id for n in nodes}
    assert out[0].node.metadata["rerank_report"]["llm_calls"] == 1


def test_a_langchain_chat_model_drives_a_reranker(llm_server: str, artemisinin_candidates) -> None:
    """Issue 15: any LangChain chat model (here ChatOpenAI on the local llama.cpp server) behind the rerankers."""
    langchain_openai = pytest.importorskip("langchain_openai")
    from langchain_clir_rag import LangChainLLM

    chat = langchain_openai.ChatOpenAI(
        model="qwen", base_url=llm_server, api_key="none", temperature=0.0, max_retries=0
    )
    llm = LangChainLLM(chat)
    assert llm.model == "ChatOpenAI:qwen" and llm.base_url == llm_server
    out = llm.generate([{"role": "user", "content": "Reply with: [1] > [2]. Then stop."}], max_tokens=16)
    assert out.text.strip() and out.prompt_tokens > 0 and out.completion_tokens > 0
    result = ListwiseReranker(LLMClient(llm), window=4, step=2, depth=4, max_passage_tokens=40).rerank(
        artemisinin_candidates
    )
    assert sorted(result.ranking.ids[:4]) == sorted(artemisinin_candidates.ids[:4])
    assert result.report.usage.calls == 1


def test_a_langchain_chat_model_writes_clir_rag_answers(llm_server: str, artemisinin_candidates) -> None:
    """The answer generator on ChatOpenAI: answers in the question's language from passages in others."""
    langchain_openai = pytest.importorskip("langchain_openai")
    from langchain_clir_rag import LangChainLLM

    from clir_rag.rag.generate import AnswerGenerator

    chat = langchain_openai.ChatOpenAI(model="qwen", base_url=llm_server, api_key="none", temperature=0.0)
    generator = AnswerGenerator(LangChainLLM(chat), top_k=3, max_tokens=48, fix_language=False)
    answer = generator.generate(Query(text="Who discovered artemisinin?", lang="en"), artemisinin_candidates.candidates)
    assert answer.error is None and answer.text and answer.lang == "en"
    assert answer.usage.calls == 1 and len(answer.passages) == 3


def test_a_streamed_reply_through_the_server(llm_server: str) -> None:
    llm = OpenAICompatibleLLM("qwen", base_url=llm_server)
    msgs = [{"role": "user", "content": "Name three colours in German, comma separated."}]
    parts = list(llm.stream(msgs, max_tokens=24))
    # greedy, but not byte-equal to a generate call: the server's KV cache reuse changes the rounding
    assert len([p for p in parts if p.text]) > 3 and "".join(p.text for p in parts).strip()
    usage = Usage()
    assert "".join(LLMClient(llm).stream(msgs, max_tokens=24, usage=usage)).strip()
    assert usage.calls == 1 and usage.completion_tokens > 3 and usage.prompt_tokens > 5

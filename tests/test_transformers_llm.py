"""The transformers backend on a tiny causal LM the test builds itself (random weights, trained tokenizer)."""

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from clir_rag.llm import LLMClient  # noqa: E402
from clir_rag.llm.transformers_backend import TransformersLLM  # noqa: E402
from clir_rag.rerank import ListwiseReranker, PairwiseReranker  # noqa: E402
from clir_rag.types import Query, Ranking, ScoredCandidate  # noqa: E402

SENTENCES = [
    "Passage A is more relevant than Passage B.",
    "Rank the passages: [1] > [2] > [3].",
    "Der Rhein mündet in die Nordsee. Tu Youyou entdeckte Artemisinin.",
    "Which passage answers the query about malaria and bees?",
]
TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}<|assistant|>"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(
        SENTENCES * 5,
        trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )
    fast.chat_template = TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=fast.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    path = tmp_path_factory.mktemp("tiny-llm")
    LlamaForCausalLM(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path


def test_generate_and_count(tiny_model: Path) -> None:
    llm = TransformersLLM(tiny_model)
    out = llm.generate([{"role": "user", "content": "Rank the passages"}], max_tokens=5)
    assert isinstance(out.text, str) and 1 <= out.completion_tokens <= 5 and out.prompt_tokens > 3
    again = llm.generate([{"role": "user", "content": "Rank the passages"}], max_tokens=5)
    assert again.text == out.text  # greedy
    assert llm.count_tokens("Passage A") >= 1 and llm.context_window == 1024


def test_label_scores_match_a_manual_computation(tiny_model: Path) -> None:
    llm = TransformersLLM(tiny_model)
    messages = [{"role": "user", "content": "Which passage? Output Passage A or Passage B:"}]
    scores = llm.score_labels(messages, ["Passage A", "Passage B"])
    prompt = llm._prompt_ids(messages)
    label = llm.tokenizer("Passage B", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = llm._model(torch.tensor([prompt + label])).logits[0]
    manual = sum(torch.log_softmax(logits[len(prompt) - 1 + i], -1)[t].item() for i, t in enumerate(label))
    assert math.isclose(scores["Passage B"], manual, rel_tol=1e-4)
    assert scores["Passage A"] != scores["Passage B"]


def test_rerankers_survive_a_model_that_writes_garbage(tiny_model: Path) -> None:
    client = LLMClient(TransformersLLM(tiny_model))
    ranking = Ranking(
        query=Query(text="malaria"),
        candidates=[ScoredCandidate(id=f"p{i}", doc_id=f"d{i}", score=1 - i / 10, text=SENTENCES[i]) for i in range(4)],
    )
    listwise = ListwiseReranker(client, window=4, step=2, depth=4).rerank(ranking)
    assert sorted(listwise.ranking.ids) == ["p0", "p1", "p2", "p3"]
    assert listwise.report.windows_ok + listwise.report.windows_repaired + listwise.report.windows_failed == 1
    pairwise = PairwiseReranker(client, method="allpairs", mode="logprob", depth=4).rerank(ranking)
    assert pairwise.report.comparisons == 6 and pairwise.report.comparison_failures == 0
    assert sorted(pairwise.ranking.ids) == ["p0", "p1", "p2", "p3"]

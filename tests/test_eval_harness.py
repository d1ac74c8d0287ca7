"""The evaluation harness: metrics agree with ir_measures and with hand computation; experiments end to end."""

from __future__ import annotations

import json
import math
import random
import warnings
from pathlib import Path

import ir_measures
import pytest
import yaml
from typer.testing import CliRunner

from clir_rag.cli import app
from clir_rag.errors import CorpusError, InputError
from clir_rag.eval.experiment import ExperimentConfig, load_config, run_experiment
from clir_rag.eval.metrics import evaluate, ordered_run, paired_ttest
from clir_rag.eval.oracle import oracle_ranked, share_of_oracle_gain
from clir_rag.eval.trec import read_run

MEASURES = ["nDCG@20", "nDCG@10", "AP", "R@100", "RR@10", "P@5"]


def random_case(seed: int = 3, queries: int = 12, docs: int = 60) -> tuple[dict, dict]:
    rng = random.Random(seed)
    qrels = {f"q{i}": {f"d{j}": rng.choice([0, 1, 2]) for j in rng.sample(range(docs), 15)} for i in range(queries)}
    run = {f"q{i}": {f"d{j}": rng.random() for j in rng.sample(range(docs), 40)} for i in range(queries)}
    return run, qrels


@pytest.mark.fast
def test_metrics_agree_with_ir_measures_run_directly():
    run, qrels = random_case()
    means, per_query = evaluate(run, qrels, MEASURES)
    direct = ir_measures.calc_aggregate([ir_measures.parse_measure(m) for m in MEASURES], qrels, run)
    for m in MEASURES:
        assert means[m] == pytest.approx(direct[ir_measures.parse_measure(m)], abs=1e-9), m
    for metric in ir_measures.iter_calc([ir_measures.nDCG @ 20], qrels, run):
        assert per_query[metric.query_id]["nDCG@20"] == pytest.approx(metric.value)


@pytest.mark.fast
def test_metrics_match_a_hand_computed_case():
    qrels = {"q": {"d1": 1, "d3": 1, "d9": 0}}
    run = {"q": {"d2": 3.0, "d1": 2.0, "d3": 1.0}}
    means, _ = evaluate(run, qrels, ["AP", "RR@10", "nDCG@3", "P@2", "R@2"])
    assert means["AP"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert means["RR@10"] == pytest.approx(0.5)
    ideal = 1 + 1 / math.log2(3)
    assert means["nDCG@3"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / ideal)
    assert means["P@2"] == pytest.approx(0.5)
    assert means["R@2"] == pytest.approx(0.5)


@pytest.mark.fast
def test_queries_missing_from_the_run_score_zero_and_unknown_ones_are_an_error():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    means, per_query = evaluate({"q1": {"a": 1.0}}, qrels, ["AP"])
    assert per_query["q2"]["AP"] == 0.0 and means["AP"] == pytest.approx(0.5)  # trec_eval -c
    with pytest.raises(InputError, match="q9"):
        evaluate({"q1": {"a": 1.0}, "q9": {"a": 1.0}}, qrels, ["AP"])
    means, _ = evaluate({"q1": {"a": 1.0}, "q9": {"a": 1.0}}, qrels, ["AP"], unknown_queries="ignore")
    assert means["AP"] == pytest.approx(0.5)
    with pytest.raises(InputError, match="unknown measure"):
        evaluate({"q1": {"a": 1.0}}, qrels, ["NotAMeasure@3"])
    with pytest.raises(InputError, match="empty"):
        evaluate({"q1": {"a": 1.0}}, {}, ["AP"])


@pytest.mark.fast
def test_ordered_run_keeps_the_rank_order_where_trec_eval_would_break_ties_by_docid(tmp_path: Path):
    path = tmp_path / "tied.trec"
    path.write_text("q Q0 a 1 1.0 t\nq Q0 z 2 1.0 t\n")  # trec_eval would put z first (docid descending)
    qrels = {"q": {"a": 1}}
    raw, _ = evaluate({"q": {"a": 1.0, "z": 1.0}}, qrels, ["AP", "RR@10"])  # the file's scores, as they are
    kept, _ = evaluate(ordered_run(read_run(path).lists()), qrels, ["AP", "RR@10"])
    read, _ = evaluate(read_run(path), qrels, ["AP", "RR@10"])  # a Run keeps its rank order too
    # ir_measures' providers do not even agree on ties: AP (trec_eval) puts z first, RR@10 puts a first
    assert raw["AP"] == pytest.approx(0.5) and raw["RR@10"] == pytest.approx(1.0)
    assert kept["AP"] == pytest.approx(1.0) and kept["RR@10"] == pytest.approx(1.0)
    assert read == kept
    assert [c.doc_id for c in read_run(path)["q"]] == ["a", "z"]


@pytest.mark.fast
def test_malformed_run_lines_name_file_and_line(tmp_path: Path):
    path = tmp_path / "bad.trec"
    path.write_text("q Q0 a 1 1.0 t\nq Q0 b two 0.5 t\n")
    with pytest.raises(CorpusError, match=r"bad.trec:2"):
        read_run(path)


@pytest.mark.fast
def test_paired_ttest():
    a = {f"q{i}": {"AP": 0.2 + 0.01 * (i % 3)} for i in range(20)}
    b = {f"q{i}": {"AP": 0.6 + 0.01 * (i % 5)} for i in range(20)}
    assert paired_ttest(a, a, "AP") == 1.0
    assert paired_ttest(a, b, "AP") < 0.001
    noisy = {q: {"AP": v["AP"] + (0.05 if i % 2 else -0.05)} for i, (q, v) in enumerate(a.items())}
    assert paired_ttest(a, noisy, "AP") > 0.05


@pytest.mark.fast
def test_oracle_sorts_the_top_depth_by_relevance_and_pri():
    ranked = {"q": [("a", 5.0), ("b", 4.0), ("c", 3.0), ("d", 2.0), ("e", 1.0)]}
    qrels = {"q": {"c": 2, "b": 1, "e": 2}}
    out = oracle_ranked(ranked, qrels, depth=3)
    assert [d for d, _ in out["q"]] == ["c", "b", "a", "d", "e"]  # e is relevant but beyond the depth
    first, _ = evaluate(ordered_run(ranked), qrels, ["nDCG@5"])
    best, _ = evaluate(ordered_run(out), qrels, ["nDCG@5"])
    assert best["nDCG@5"] > first["nDCG@5"]
    assert share_of_oracle_gain(0.4, 0.55, 0.7) == pytest.approx(0.5)
    assert share_of_oracle_gain(0.4, 0.3, 0.7) == pytest.approx(-1 / 3)
    assert share_of_oracle_gain(0.7, 0.7, 0.7) is None
    with pytest.warns(DeprecationWarning, match="share_of_oracle_gain"):
        from clir_rag.eval import pri  # the name before 0.2
    assert pri is share_of_oracle_gain


def _rescore(path: Path, qrels: dict, measure: str) -> float:
    """ir_measures straight on the written file (rank order kept), as a user would re-score it."""
    run = ordered_run(read_run(path).lists())
    return ir_measures.calc_aggregate([ir_measures.parse_measure(measure)], qrels, run)[
        ir_measures.parse_measure(measure)
    ]


def test_xquad_experiment_writes_runs_table_plots_and_the_oracle(shared_data: Path, encoder, tmp_path: Path):
    cfg = ExperimentConfig(
        name="xq",
        # 12 of 48 articles (60 paragraphs): two passage lengths embedded in a third of the time
        dataset={"type": "xquad", "query_lang": "en", "doc_langs": "de", "articles": 12},
        data=str(shared_data),
        retrievers=["dense", "bm25"],
        passage_tokens=[128, 256],
        limit=30,
        oracle_depths=[20],
        out=str(tmp_path / "out"),
        work=str(tmp_path / "idx"),
    )
    result = run_experiment(cfg, progress=False)
    out = tmp_path / "out"
    names = [r.name for r in result.runs]
    assert names[:2] == ["dense-p128", "dense-p128+oracle@20"] and "bm25-p256+oracle@20" in names
    for name in names:
        assert (out / "runs" / f"{name}.trec").exists()
    for name in ("report.md", "results.json", "main.png", "passage_length.png"):
        assert (out / name).stat().st_size > 0
    from clir_rag.eval import load_xquad

    data = load_xquad("en", "de", shared_data / "xquad", limit=30, articles=12)
    for run in result.runs:
        assert run.means["nDCG@20"] == pytest.approx(
            _rescore(out / "runs" / f"{run.name}.trec", data.qrels, "nDCG@20"), abs=1e-9
        )
    dense, bm25 = result.get("dense-p256"), result.get("bm25-p256")
    assert dense.means["nDCG@20"] > bm25.means["nDCG@20"]
    assert bm25.p_values["nDCG@20"] < 0.05  # compared with the baseline (first run): far worse
    oracle = result.get("dense-p256+oracle@20")
    assert oracle.means["nDCG@20"] >= dense.means["nDCG@20"]
    assert oracle.means["R@100"] == pytest.approx(dense.means["R@100"])  # reordering the top 20 adds no recall
    # BM25 leaves room: wherever its top 20 holds the relevant paragraph, the oracle (read back from
    # its run file) puts it first; elsewhere nothing changes
    first, best = result.get("bm25-p256"), result.get("bm25-p256+oracle@20")
    top20 = {qid: [d for d, _ in docs[:20]] for qid, docs in read_run(out / "runs" / "bm25-p256.trec").lists().items()}
    for q in data.queries:
        hit = any(d in top20.get(q.id, []) for d in data.qrels[q.id])
        assert best.per_query[q.id]["RR@10"] == (1.0 if hit else first.per_query[q.id]["RR@10"])
    assert best.means["nDCG@20"] > first.means["nDCG@20"]
    report = (out / "report.md").read_text()
    assert "| dense-p256 |" in report and "†" in report
    saved = json.loads((out / "results.json").read_text())
    assert saved["queries"] == 30 and len(saved["runs"][0]["per_query"]) == 30


def test_eval_cli_runs_ciral_on_a_fixture_and_names_a_missing_corpus(encoder, tmp_path: Path):
    from tests.builders.collections import write_ciral_fixture

    data_dir, corpus = write_ciral_fixture(tmp_path / "ciral", lang="sw")
    config = tmp_path / "ciral-sw.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "ciral-sw-fixture",
                "dataset": {"type": "ciral", "lang": "sw", "data_dir": str(data_dir), "corpus": str(corpus)},
                "retrievers": ["dense", "bm25"],
                "oracle_depths": [5],
                "out": str(tmp_path / "out"),
            }
        )
    )
    runner = CliRunner()
    res = runner.invoke(app, ["eval", str(config)])
    assert res.exit_code == 0, res.output
    assert "| dense |" in res.output and (tmp_path / "out" / "runs" / "dense.trec").exists()
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    dense = next(r for r in saved["runs"] if r["name"] == "dense")
    assert dense["means"]["nDCG@20"] > 0.5  # the fixture's passages answer its queries

    missing = tmp_path / "nowhere" / "passages.jsonl"
    res = runner.invoke(app, ["eval", str(config), "--corpus", str(missing)])
    assert res.exit_code == 1
    assert str(missing) in res.output.replace("\n", "") and "corpus" in res.output.lower()


@pytest.mark.fast
def test_bad_configs_name_the_problem(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndataset: {type: xquad}\nretreivers: [dense]\n")
    with pytest.raises(InputError, match="retreivers"):
        load_config(bad)
    bad.write_text("name: x\ndataset: {type: trec-covid}\n")
    with pytest.raises(InputError, match=r"dataset\.type"):
        load_config(bad)
    with pytest.raises(InputError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    res = CliRunner().invoke(app, ["eval", str(bad)])
    assert res.exit_code == 1 and "dataset.type" in res.output


def test_rerank_docs_read_the_old_names_og_and_dt_with_a_deprecation_warning(tmp_path: Path):
    path = tmp_path / "old.yaml"
    path.write_text("dataset: {type: xquad}\nrerank: [{method: listwise, docs: [dt, og]}, {method: listwise}]\n")
    with pytest.warns(FutureWarning, match="'translated' for 'dt', 'original' for 'og'"):
        cfg = load_config(path)
    assert cfg.rerank[0].docs == ["translated", "original"] and cfg.rerank[1].docs == ["original"]
    path.write_text("dataset: {type: xquad}\nrerank: [{method: listwise, docs: [translated]}]\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new names warn of nothing
        assert load_config(path).rerank[0].docs == ["translated"]
    path.write_text("dataset: {type: xquad}\nrerank: [{method: listwise, docs: [mt]}]\n")
    with pytest.raises(InputError, match=r"rerank\.0\.docs\.0"):
        load_config(path)


@pytest.mark.fast
def test_packaged_configs_parse():
    for path in sorted(Path(__file__).parents[1].joinpath("evals").glob("*.yaml")):
        if path.name.startswith(("rag-", "acs-train-")):  # RAG check and training configs: test_rag, test_train
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)  # no packaged config uses an old spelling
            cfg = load_config(path)
        assert cfg.name == path.stem and cfg.main_measure in cfg.measures


@pytest.mark.slow
def test_reranking_experiment_with_the_local_llm_og_and_dt(local_llm, encoder, tmp_path: Path):
    """Listwise reranking with the embedded GGUF, OG and DT (tiny CTranslate2 model), then a free rerun."""
    from tests.builders.collections import write_ciral_fixture
    from tests.builders.tiny_nmt import build_tiny_nllb

    data_dir, corpus = write_ciral_fixture(tmp_path / "ciral", lang="sw")
    _, ct2 = build_tiny_nllb(tmp_path / "nmt")
    cfg = dict(
        name="rr",
        dataset={"type": "ciral", "lang": "sw", "data_dir": str(data_dir), "corpus": str(corpus)},
        retrievers=["dense"],
        limit=2,
        oracle_depths=[5],
        rerank=[{"method": "listwise", "depth": 5, "window": 5, "step": 5, "docs": ["original", "translated"]}],
        translation={"model": str(ct2)},
        out=str(tmp_path / "out"),
    )
    result = run_experiment(ExperimentConfig.model_validate(cfg), progress=False, llm=local_llm)
    og, dt = result.get("dense+listwise-og"), result.get("dense+listwise-dt")
    assert og.extra["llm_calls"] + og.extra["failures"] >= 2 and og.base == "dense"
    assert dt.extra["llm_calls"] >= 1 and dt.extra["docs"] == "translated"
    assert (tmp_path / "out" / "translations.sqlite").exists()
    report = (tmp_path / "out" / "report.md").read_text()
    assert "dense+listwise-og" in report
    again = run_experiment(ExperimentConfig.model_validate(cfg), progress=False, llm=local_llm)
    assert again.get("dense+listwise-og").extra["llm_calls"] == 0
    assert again.get("dense+listwise-og").means == og.means


@pytest.mark.fast
def test_the_plot_title_names_only_the_bars_drawn() -> None:
    """Issue 14 item 13: the title named oracle and reranked bars in runs that had none."""
    from clir_rag.eval.report import plot_legend

    assert plot_legend({"first"}) == "first stage (blue)"
    assert plot_legend({"first", "oracle"}) == "first stage (blue), oracle (grey)"
    assert plot_legend({"rerank", "first", "oracle"}) == "first stage (blue), oracle (grey), reranked (orange)"


def test_query_vectors_are_encoded_once_and_read_back_byte_for_byte(encoder, tmp_path: Path) -> None:
    import numpy as np

    from clir_rag.cache import SqliteCache
    from clir_rag.eval.experiment import QueryVectorCache

    class Counting:
        def __init__(self, inner):
            self.inner, self.texts = inner, []

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def encode_queries(self, texts):
            self.texts += list(texts)
            return self.inner.encode_queries(texts)

    first = Counting(encoder)
    a = QueryVectorCache(first, SqliteCache(tmp_path / "q.sqlite"))
    got = a.encode_queries(["Wer gewann die WM?", "世界杯", "Wer gewann die WM?"])
    assert first.texts == ["Wer gewann die WM?", "世界杯"]  # a repeated text is encoded once
    again = Counting(encoder)
    b = QueryVectorCache(again, SqliteCache(tmp_path / "q.sqlite"))  # another experiment, same folder
    assert np.array_equal(b.encode_queries(["世界杯", "Wer gewann die WM?"]), got[[1, 0]])
    assert again.texts == [] and b.spec == encoder.spec and b.dim == encoder.dim
    assert np.array_equal(got[1], encoder.encode_queries(["世界杯"])[0])

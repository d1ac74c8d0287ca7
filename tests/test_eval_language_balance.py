"""Language balance in the evaluation harness: top-k language share, MRC, calibration splits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from clir_rag.errors import CorpusError, InputError
from clir_rag.eval.experiment import ExperimentConfig, language_share, rank_correlation, run_experiment


def test_rank_correlation_bounds_and_conventions() -> None:
    a = [f"d{i}" for i in range(30)]
    assert rank_correlation(a, a, 20) == pytest.approx(1.0)
    assert rank_correlation(a, list(reversed(a)), 20) < -0.5
    b = [f"x{i}" for i in range(30)]  # disjoint top lists: every document is absent from one side
    assert rank_correlation(a, b, 20) < -0.8
    swapped = a[:]
    swapped[0], swapped[1] = swapped[1], swapped[0]
    assert 0.9 < rank_correlation(a, swapped, 20) < 1.0
    # d19 falls to rank 21 in the second list: it keeps that rank instead of counting as absent
    shifted = ["new", *a[:29]]
    assert rank_correlation(a, shifted, 20) == pytest.approx(rank_correlation(a[:29], shifted, 20))
    assert 0.6 < rank_correlation(a, shifted, 20) < 1.0


def test_language_share_averages_per_query_shares() -> None:
    ranked = {"q1": [("a", 1.0), ("b", 0.9)], "q2": [("a", 1.0), ("c", 0.5), ("b", 0.2), ("d", 0.1)]}
    langs = {"a": "en", "b": "de", "c": "de", "d": "zh"}
    share = language_share(ranked, langs, depth=3)
    assert share == pytest.approx({"de": (0.5 + 2 / 3) / 2, "en": (0.5 + 1 / 3) / 2})
    assert sum(share.values()) == pytest.approx(1.0)


def test_xquad_debias_experiment_reports_balance_and_never_scores_calibration_queries(
    shared_data: Path, encoder, tmp_path: Path
) -> None:
    cfg = ExperimentConfig(
        name="balance",
        dataset={
            "type": "xquad",
            "query_lang": "zh",
            "doc_langs": ["zh", "en"],
            "calibration": "half-articles",
            "parallel_langs": ["en"],
            "articles": 8,  # 80 paragraphs, not 480: the balance shows as well, in a fifth of the time
        },
        data=str(shared_data),
        retrievers=["dense", "hybrid", "hybrid-rrf"],
        debias=["none", "center", "auto"],
        limit=12,
        oracle_depths=[],
        mrc={"langs": ["en"], "depth": 10},
        out=str(tmp_path / "out"),
        work=str(tmp_path / "idx"),
    )
    result = run_experiment(cfg, progress=False)
    names = [r.name for r in result.runs]
    # the en and zh paragraphs are translations of each other: auto is center-zscore, run once per retriever
    assert names == [f"{m}{d}" for m in ("dense", "hybrid", "hybrid-rrf") for d in ("", "-center", "-center-zscore")]
    plain, fair = result.get("dense"), result.get("dense-center")
    assert result.get("dense-center-zscore").extra["auto"] and not fair.extra["auto"] and not plain.extra["auto"]
    # issue 26: the balanced hybrid keeps the corrected dense ranking's language shares; plain RRF does not
    assert result.get("hybrid-center").extra["language_share"] == pytest.approx(fair.extra["language_share"])
    rrf_share = result.get("hybrid-rrf-center").extra["own_language_share"]
    assert rrf_share > fair.extra["own_language_share"] + 0.1
    assert plain.extra["own_language_share"] > 0.6  # Chinese questions, Chinese passages first
    assert fair.extra["own_language_share"] < plain.extra["own_language_share"]
    assert max(fair.extra["language_share"].values()) < max(plain.extra["language_share"].values())
    assert fair.means["nDCG@20"] > plain.means["nDCG@20"]
    assert -1.0 <= plain.extra["mrc"]["en"] < fair.extra["mrc"]["en"] <= 1.0

    from clir_rag.eval import load_xquad

    full = load_xquad("zh", "de", shared_data / "xquad", calibration="half-articles", articles=8)
    assert len(full.calibration_queries) > 50 and full.name == "xquad-zh-de-a8-half"
    scored = set(json.loads((tmp_path / "out" / "results.json").read_text())["runs"][0]["per_query"])
    assert scored and not scored & {q.id for q in full.calibration_queries}
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Language balance (top 20)" in report and "| dense-center |" in report and "MRC@10" in report
    assert (tmp_path / "out" / "language_share.png").stat().st_size > 10_000


def test_mrc_needs_a_parallel_collection_and_calibration_split_names_are_checked(shared_data: Path, tmp_path: Path):
    cfg = ExperimentConfig(
        name="x",
        dataset={"type": "xquad", "query_lang": "en", "doc_langs": "de"},
        data=str(shared_data),
        retrievers=["dense"],
        mrc={"langs": ["de"]},
        limit=2,
        out=str(tmp_path / "out"),
        work=str(tmp_path / "idx"),
    )
    with pytest.raises(InputError, match="no parallel queries"):
        run_experiment(cfg, progress=False)
    from clir_rag.eval import load_xquad

    with pytest.raises(CorpusError, match="calibration split"):
        load_xquad("en", "de", shared_data / "xquad", calibration="odd")
    with pytest.raises(CorpusError, match="articles must be a positive number, not 0"):
        load_xquad("en", "de", shared_data / "xquad", articles=0)
    two = load_xquad("en", "de", shared_data / "xquad", articles=2)
    assert {d.id.split("-")[0] for d in two.documents} == {"de:0", "de:1"} and two.name == "xquad-en-de-a2"
    # questions in another language, the same documents: one index between them
    assert two.index_name == load_xquad("zh", "de", shared_data / "xquad", articles=2).index_name == "xquad-de-a2"
    assert all(next(iter(two.qrels[q.id])).split("-")[0] in ("de:0", "de:1") for q in two.queries)


def test_scatter_keeps_every_paragraph_in_one_language_and_judges_only_that_copy(shared_data: Path) -> None:
    from clir_rag.eval import load_xquad

    a = load_xquad("en", "scatter", shared_data / "xquad", calibration="half-articles")
    b = load_xquad("zh", "scatter", shared_data / "xquad", calibration="half-articles")
    units = [d.id.split(":", 1)[1] for d in a.documents]
    assert len(units) == len(set(units)) == 240  # each paragraph once, in one language
    assert len({d.lang for d in a.documents}) == 12 and max(Counter(d.lang for d in a.documents).values()) < 40
    assert [d.id for d in a.documents] == [d.id for d in b.documents]  # the same draw whatever the question language
    assert a.index_name == b.index_name == "xquad-scattered" and a.name == "xquad-en-scattered-half"
    ids = {d.id for d in a.documents}
    assert all(len(rel) == 1 and set(rel) <= ids for rel in a.qrels.values())


def test_an_experiment_with_a_title_format_gets_its_own_index(shared_data: Path, encoder, tmp_path: Path) -> None:
    common = {
        "dataset": {"type": "xquad", "query_lang": "en", "doc_langs": "de", "articles": 1},
        "data": str(shared_data),
        "retrievers": ["dense"],
        "limit": 3,
        "oracle_depths": [],
        "work": str(tmp_path / "idx"),
    }
    run_experiment(ExperimentConfig(name="dot", title_format="dot", out=str(tmp_path / "a"), **common), progress=False)
    run_experiment(ExperimentConfig(name="default", out=str(tmp_path / "b"), **common), progress=False)
    made = sorted(p.name for p in (tmp_path / "idx").iterdir() if p.is_dir())  # beside them: cached query vectors
    assert made == ["xquad-de-a1-p256", "xquad-de-a1-p256-tdot"]
    manifest = json.loads((tmp_path / "idx" / "xquad-de-a1-p256-tdot" / "clir-rag.json").read_text())
    assert manifest["title_format"] == "dot"


def test_ciral_calibration_split_reads_other_topics(tmp_path: Path) -> None:
    from clir_rag.eval.ciral import load_ciral
    from tests.builders.collections import write_ciral_fixture

    data_dir, corpus = write_ciral_fixture(tmp_path / "ciral", lang="sw")
    (data_dir / "topics" / "topics.ciral-v1.0-sw-test-b.tsv").write_text(
        "901\tWhat is the capital of Kenya?\n902\tWho wrote the Swahili dictionary?\n", encoding="utf-8"
    )
    plain = load_ciral("sw", data_dir=data_dir, corpus=corpus)
    calibrated = load_ciral("sw", data_dir=data_dir, corpus=corpus, calibration_split="test-b")
    assert [q.id for q in calibrated.queries] == [q.id for q in plain.queries]  # the scored topics are unchanged
    assert [(q.id, q.lang) for q in calibrated.calibration_queries] == [("901", "en"), ("902", "en")]
    with pytest.raises(CorpusError, match="must differ"):
        load_ciral("sw", data_dir=data_dir, corpus=corpus, calibration_split="test-a")
    with pytest.raises(CorpusError, match="calibration topics not found"):
        load_ciral("sw", data_dir=data_dir, corpus=corpus, calibration_split="dev")

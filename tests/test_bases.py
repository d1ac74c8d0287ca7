"""The shared machinery: the run type and its TREC files, rerank_run, the LLM, retriever and reranker bases,
the config loader and the typed manifest."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from clir_rag.config import ExperimentConfig, RagCheckConfig, load_config, load_rag_config, load_yaml_config
from clir_rag.errors import IndexCompatibilityError, InputError
from clir_rag.eval.trec import read_run, write_run
from clir_rag.index import CrossLingualIndex
from clir_rag.llm import LLMClient
from clir_rag.llm.base import BaseLLM, Completion, Message
from clir_rag.manifest import MANIFEST, IndexManifest, read_manifest
from clir_rag.rerank import ListwiseReranker
from clir_rag.rerank.run import rerank_run
from clir_rag.testing.llm_faults import FaultyLLM
from clir_rag.types import Document, Query, Ranking, Run, ScoredCandidate

# -- Run and its TREC files -----------------------------------------------------------------------------------


@pytest.mark.fast
def test_run_from_lists_keeps_the_order_and_rewrites_scores_that_disagree_with_it() -> None:
    run = Run.from_lists({"q1": [("a", 0.9), ("b", 0.5)], "q2": [("c", 0.2), ("d", 0.7), ("e", 0.7)]}, name="x")
    assert run["q1"].doc_ids == ["a", "b"] and [c.score for c in run["q1"]] == [0.9, 0.5]  # already decreasing
    assert run["q2"].doc_ids == ["c", "d", "e"] and [c.score for c in run["q2"]] == [3.0, 2.0, 1.0]
    assert [c.metadata["first_stage_score"] for c in run["q2"]] == [0.2, 0.7, 0.7]
    assert run.lists()["q2"] == [("c", 3.0), ("d", 2.0), ("e", 1.0)] and run.name == "x"
    # scores equal at the 6 decimals a file keeps are a tie too: trec_eval would reorder them by docid
    tied = Run.from_lists({"q": [("z", 1.0000001), ("a", 1.0)]})
    assert [c.score for c in tied["q"]] == [2.0, 1.0]


@pytest.mark.fast
def test_run_from_rankings_keeps_one_candidate_per_document_its_best_passage() -> None:
    q = Query(id="q1", text="who?")
    passages = [
        ScoredCandidate(id="d1#2", doc_id="d1", score=0.9),
        ScoredCandidate(id="d2#0", doc_id="d2", score=0.8),
        ScoredCandidate(id="d1#0", doc_id="d1", score=0.7),
    ]
    run = Run.from_rankings([Ranking(query=q, candidates=passages, retriever="dense")])
    ranking = run["q1"]
    assert ranking.doc_ids == ["d1", "d2"] and ranking.level == "document" and ranking.query == q
    assert ranking.candidates[0].id == "d1" and ranking.candidates[0].metadata["passage_id"] == "d1#2"


@pytest.mark.fast
def test_a_written_run_reads_back_in_the_same_order_with_its_queries(tmp_path: Path) -> None:
    lists = {"q1": [("b", 5.0), ("a", 5.0), ("c", 1.0)], "q2": [("x", 0.3)]}
    path = tmp_path / "r.trec"
    write_run(Run.from_lists(lists, name="mine"), path)
    lines = path.read_text().splitlines()
    assert lines[0] == "q1 Q0 b 1 3.000000 mine" and len(lines) == 4
    queries = {"q1": Query(id="q1", text="first question"), "q2": Query(id="q2", text="second")}
    back = read_run(path, queries)
    assert [d for d, _ in back.lists()["q1"]] == ["b", "a", "c"] and back.name == "mine"
    assert back["q1"].query.text == "first question"
    assert read_run(path)["q2"].query.text == "q2"  # without queries, the id stands in for the text


# -- rerank_run -----------------------------------------------------------------------------------------------


def _docs() -> dict[str, Document]:
    texts = {
        "d1": "Bienen bestäuben Pflanzen.",
        "d2": "Tu Youyou entdeckte das Artemisinin gegen Malaria.",
        "d3": "Der Rhein mündet in die Nordsee.",
        "d4": "Kahawa hukua milimani.",
    }
    return {i: Document(id=i, text=t, lang="sw" if i == "d4" else "de") for i, t in texts.items()}


@pytest.mark.fast
def test_rerank_run_checks_every_document_before_any_llm_call() -> None:
    run = Run.from_lists({"q1": [("d1", 3.0), ("gone", 2.0)]}, {"q1": Query(id="q1", text="Who?")})
    llm = FaultyLLM([], default="[2] > [1]")
    with pytest.raises(InputError, match=r"1 documents of the run are not in the collection \(e.g. 'gone'\)"):
        rerank_run(ListwiseReranker(llm, window=2, step=1), run, _docs(), depth=2)
    assert llm.calls == 0


@pytest.mark.fast
def test_rerank_run_reorders_the_head_keeps_the_tail_and_the_first_stage_scores() -> None:
    queries = {"q1": Query(id="q1", text="Who discovered artemisinin?", lang="en")}
    run = Run.from_lists({"q1": [("d1", 0.9), ("d2", 0.8), ("d3", 0.7), ("d4", 0.6)]}, queries, name="dense")
    llm = FaultyLLM([], default="[2] > [1] > [3]")  # one window of three: the second document first
    seen: list[list[str]] = []

    def texts(q: Query, docs) -> list[str]:
        seen.append([d.id for d in docs])
        return [d.text.upper() for d in docs]

    out, report = rerank_run(ListwiseReranker(llm, window=3, step=1), run, _docs(), depth=3, texts=texts)
    ranking = out["q1"]
    assert ranking.doc_ids == ["d2", "d1", "d3", "d4"] and out.name == "dense+listwise"
    assert [c.score for c in ranking] == [4.0, 3.0, 2.0, 1.0]
    assert [c.metadata["first_stage_score"] for c in ranking] == [0.8, 0.9, 0.7, 0.6]
    assert [c.metadata["first_stage_rank"] for c in ranking] == [2, 1, 3, 4]
    assert seen == [["d1", "d2", "d3"]] and "ARTEMISININ" in llm.seen[0][1]["content"]
    assert report.queries == 1 and report.windows_ok == 1 and report.usage.calls == 1


@pytest.mark.fast
def test_rerank_run_counts_a_failed_answer_and_keeps_that_order() -> None:
    queries = {f"q{i}": Query(id=f"q{i}", text="Who discovered artemisinin?") for i in (1, 2)}
    run = Run.from_lists({q: [("d1", 0.9), ("d2", 0.8)] for q in queries}, queries)
    llm = FaultyLLM(["no idea", "[2] > [1]"])
    out, report = rerank_run(ListwiseReranker(llm, window=2, step=1), run, _docs(), depth=2)
    assert out["q1"].doc_ids == ["d1", "d2"] and out["q2"].doc_ids == ["d2", "d1"]
    assert report.queries == 2 and report.windows_failed == 1 and report.windows_ok == 1


# -- the LLM base ---------------------------------------------------------------------------------------------


class _Echo(BaseLLM):
    """A backend that cannot stop at a sequence itself: it answers its last message back."""

    backend = "echo"
    model = "echo"

    def _generate(self, messages: list[Message], *, max_tokens: int, stop: list[str], temperature: float) -> Completion:
        return Completion(messages[-1]["content"], prompt_tokens=1, completion_tokens=2)


@pytest.mark.fast
def test_base_llm_cuts_at_stop_sequences_and_checks_messages() -> None:
    llm = _Echo()
    assert llm.generate([{"role": "user", "content": "one. two"}], stop=[".", ""]).text == "one"
    assert llm.generate([{"role": "user", "content": "one. two"}]).text == "one. two"
    with pytest.raises(InputError, match="message 1: needs a 'role' and a string 'content'"):
        llm.generate([{"role": "user", "content": "ok"}, {"role": "user"}])  # type: ignore[list-item]
    assert llm.count_tokens("a few words here") >= 4  # an estimate that errs high


def test_the_real_backend_stops_where_it_is_told(local_llm) -> None:
    out = local_llm.generate([{"role": "user", "content": "Count from 1 to 9, separated by commas."}], stop=["5"])
    assert "5" not in out.text and "6" not in out.text and "1" in out.text


# -- the reranker base: one procedure, sync and async -------------------------------------------------------


def test_sync_and_async_reranking_run_the_same_procedure(local_llm, artemisinin_candidates: Ranking) -> None:
    sync = ListwiseReranker(LLMClient(local_llm), window=4, step=2, depth=6).rerank(artemisinin_candidates)
    asyn = asyncio.run(
        ListwiseReranker(LLMClient(local_llm), window=4, step=2, depth=6).arerank(artemisinin_candidates)
    )
    assert sync.ranking.ids == asyn.ranking.ids
    assert sync.report.usage.calls == asyn.report.usage.calls == 2  # windows 2..6 and 0..4
    assert sync.report.windows_ok + sync.report.windows_repaired + sync.report.windows_failed == 2


# -- the retriever base ---------------------------------------------------------------------------------------


def test_every_retriever_has_an_async_form_that_agrees(demo_index: CrossLingualIndex) -> None:
    for mode in ("dense", "bm25", "hybrid"):
        retriever = demo_index.retriever(mode)  # type: ignore[arg-type]
        query = Query(text="Who discovered artemisinin?", lang="en")
        sync = retriever.retrieve(query, 5, langs=["DE", "zh", "de"])
        asyn = asyncio.run(retriever.aretrieve(query, 5, langs=["DE", "zh", "de"]))
        assert sync.ids == asyn.ids and sync.candidates, mode
        assert {c.lang for c in sync.candidates} <= {"de", "zh"}, mode  # codes normalised, duplicates dropped


# -- config and manifest --------------------------------------------------------------------------------------


@pytest.mark.fast
def test_both_configs_load_through_one_loader_with_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("dataset: {type: xquad}\nlimit: 3\n")
    assert load_config(path).name == "exp" and load_rag_config(path).name == "exp"  # the file's stem
    assert load_config(path, limit=7).limit == 7 and load_rag_config(path, limit=None).limit == 3
    assert isinstance(load_yaml_config(path, RagCheckConfig), RagCheckConfig)
    assert ExperimentConfig.model_validate({"name": "x", "dataset": {"type": "xquad"}}).overlap == 32
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(InputError, match="expected a mapping at the top level"):
        load_rag_config(listed)
    path.write_text("dataset: {type: xquad}\nretriever: dense\ntop_kk: 3\n")
    with pytest.raises(InputError) as err:
        load_rag_config(path)
    assert "top_kk" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.fast
def test_the_manifest_is_typed_keeps_unknown_keys_and_names_a_bad_file(tmp_path: Path) -> None:
    index = CrossLingualIndex(tmp_path / "idx", max_tokens=64, overlap=8)
    assert isinstance(index.manifest, IndexManifest) and index.manifest.max_tokens == 64
    file = tmp_path / "idx" / MANIFEST
    assert not file.exists()  # nothing is written before the first documents are checked
    index.add([Document(id="a", text="Bienen bestäuben Pflanzen.", lang="de")], progress=False)
    raw = json.loads(file.read_text())
    assert raw["format"] == 1 and raw["title_format"] == "dot" and raw["bm25"] == {"k1": 0.9, "b": 0.4}
    raw["written_by_a_newer_clir_rag"] = {"x": 1}
    file.write_text(json.dumps(raw))
    reopened = CrossLingualIndex(tmp_path / "idx")
    reopened.add([Document(id="d", text="Ein kurzer Satz über Bienen.", lang="de")], progress=False)
    assert json.loads(file.read_text())["written_by_a_newer_clir_rag"] == {"x": 1}
    raw["dim"] = "many"
    file.write_text(json.dumps(raw))
    with pytest.raises(IndexCompatibilityError, match=r"clir-rag.json: unreadable manifest \(dim: "):
        read_manifest(file)


@pytest.mark.fast
def test_limits_and_counts_in_configs_must_be_positive(tmp_path: Path) -> None:
    """Issue 14 item 7: eval --limit 0 ran every query and --limit -3 was accepted."""
    path = tmp_path / "exp.yaml"
    path.write_text("dataset: {type: xquad}\n")
    for bad in (0, -3):
        with pytest.raises(InputError, match="limit: Input should be greater than or equal to 1"):
            load_config(path, limit=bad)
        with pytest.raises(InputError, match="limit: Input should be greater than or equal to 1"):
            load_rag_config(path, limit=bad)
    path.write_text("dataset: {type: xquad}\nk: 0\nrerank: [{depth: 0}]\n")
    with pytest.raises(InputError, match=r"k: Input should be greater .*rerank\.0\.depth: Input should be greater"):
        load_config(path)

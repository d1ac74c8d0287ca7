"""Fixtures and helpers of the core's tests; the fixtures shared with the integration packages' tests
(the demo index, the embedded GGUF, the llama.cpp server) are in :mod:`clir_rag.testing.fixtures`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clir_rag.eval import default_data_dir
from clir_rag.index import CrossLingualIndex
from clir_rag.types import Ranking

XQUAD_ARTICLES = 12  # the articles of XQuAD the session's German index holds (:func:`xquad_de_index`)


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = default_data_dir()
    if not (path / "xquad" / "xquad.en.json").exists():
        pytest.skip(f"shared data not found at {path} (set CLIR_RAG_DATA to the folder holding xquad/)")
    return path


@pytest.fixture(scope="session")
def xquad_de_index(shared_data: Path, tmp_path_factory: pytest.TempPathFactory, encoder) -> Path:
    """The German paragraphs of XQuAD's first 12 articles (60 of 240, ``articles=12``) indexed once, at the default
    passage length, for every test that needs them; tests that write copy it. All 240 took 30 s to embed on 2 cores,
    and no test's point is the size: ``make xquad`` and evals/ measure the whole collection."""
    from clir_rag.eval import load_xquad

    path = tmp_path_factory.mktemp("xquad") / "xquad-de-a12"
    docs = load_xquad("en", "de", shared_data, articles=XQUAD_ARTICLES).documents
    CrossLingualIndex(path, encoder=encoder).add(docs, progress=False)
    return path


@pytest.fixture(scope="session")
def artemisinin_candidates(demo_index) -> Ranking:
    """Six first-stage candidates in several languages for an English question."""
    from clir_rag.types import Query

    # Plain dense order for this question with titles joined by a newline: the generator and reranker
    # tests that use these were written against it (in another order the 0.5B model may answer
    # "[Passage 1]"), so it is pinned here rather than left to the index's title format and debiasing,
    # which have tests of their own.
    ids = [
        "de-malaria-medikament#0",
        "en-coffee-origin#0",
        "en-malaria#0",
        "fr-paludisme#0",
        "zh-tuyouyou#0",
        "sw-malaria#0",
    ]
    stored = demo_index.store.get(ids)
    candidates = [stored[pid].model_copy(update={"score": 0.9 - 0.05 * rank}) for rank, pid in enumerate(ids)]
    return Ranking(query=Query(text="Who discovered artemisinin?", lang="en"), candidates=candidates, retriever="dense")


@pytest.fixture(scope="module")
def ray_cluster(request: pytest.FixtureRequest) -> Iterator[None]:
    """A real two-CPU Ray cluster on this machine (dashboard off), shut down after the module."""
    ray = pytest.importorskip("ray", reason="needs the [ray] extra")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # classes the test module defines travel to the workers by value (the workers cannot import tests/)
    ray.cloudpickle.register_pickle_by_value(request.module)
    try:
        yield
    finally:
        ray.shutdown()

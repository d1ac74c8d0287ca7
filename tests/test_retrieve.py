import pytest

from clir_rag.retrieve import (
    BM25Retriever,
    DenseRetriever,
    DocumentRetriever,
    HybridRetriever,
    Retriever,
    balanced_fusion,
    reciprocal_rank_fusion,
    weighted_score_fusion,
)
from clir_rag.types import Query, Ranking, ScoredCandidate


def _sorted(r: Ranking) -> bool:
    return all(a.score >= b.score for a, b in zip(r.candidates, r.candidates[1:], strict=False))


@pytest.mark.parametrize(
    ("query", "langs", "expected_doc"),
    [
        (
            "Who discovered the drug artemisinin against malaria?",
            ["de", "zh", "sw", "fr"],
            {"de-malaria-medikament", "zh-tuyouyou"},
        ),
        ("Wie hoch ist der höchste Berg der Welt?", ["zh", "fr", "sw"], {"zh-zhumulangma"}),
        (
            "Ni nchi gani imeshinda Kombe la Dunia mara nyingi zaidi?",
            ["zh", "en", "de"],
            {"zh-shijiebei", "en-world-cup"},
        ),
        ("蜜蜂为什么会死亡？", ["de", "en", "fr", "es", "sw"], {"de-bienensterben"}),
    ],
)
def test_dense_finds_the_answer_in_another_language(
    demo_index, query: str, langs: list[str], expected_doc: set[str]
) -> None:
    ranking = demo_index.retriever("dense").retrieve(Query(text=query), 3, langs=langs)
    assert set(ranking.doc_ids[:2]) & expected_doc
    assert {c.lang for c in ranking.candidates} <= set(langs)
    assert _sorted(ranking) and all(-1.0 <= c.score <= 1.0 for c in ranking.candidates)


def test_language_filter_is_respected_by_every_mode(demo_index) -> None:
    for mode in ("dense", "bm25", "hybrid"):
        ranking = demo_index.search("Kilimanjaro Kaffee coffee", k=10, mode=mode, langs=["sw", "deu"])
        assert ranking.candidates, mode
        assert {c.lang for c in ranking.candidates} <= {"sw", "de"}, mode


def test_bm25_matches_shared_names_across_languages(demo_index) -> None:
    ranking = demo_index.retriever("bm25").retrieve("Kilimanjaro", 10)
    assert {"en-kilimanjaro", "sw-kilimanjaro", "sw-kahawa-kenya"} <= set(ranking.doc_ids)
    assert _sorted(ranking) and all(c.score > 0 for c in ranking.candidates)
    assert ranking.candidates[0].text  # texts come back from the vector store


def test_bm25_with_query_per_language(demo_index) -> None:
    bm25 = demo_index.retriever("bm25")
    assert isinstance(bm25.inner, BM25Retriever)  # over the index's current state
    ranking = bm25.retrieve("bees", 5, query_by_lang={"de": "Bestäubung", "fr": "abeilles", "es": "abejas"})
    assert {"de-bienensterben", "fr-abeilles", "es-abejas"} <= set(ranking.doc_ids)


def test_hybrid_is_rrf_of_dense_and_bm25(demo_index) -> None:
    q = Query(text="Mount Kilimanjaro glaciers")
    hybrid = demo_index.retriever("hybrid", fusion="rrf", debias="none")
    assert isinstance(hybrid.inner, HybridRetriever) and hybrid.rrf_k == 60
    dense = DenseRetriever(demo_index.store, demo_index.encoder).retrieve(q, 100)
    bm25 = BM25Retriever(demo_index.bm25, demo_index.store).retrieve(q, 100)
    ranking = hybrid.retrieve(q, 5)
    top = ranking.candidates[0]
    expected = sum(1 / (60 + r.ids.index(top.id) + 1) for r in (dense, bm25) if top.id in r.ids)
    assert top.score == pytest.approx(expected)
    assert _sorted(ranking) and len(ranking) == 5


def _r(*pairs: tuple[str, float]) -> Ranking:
    return Ranking(query=Query(text="q"), candidates=[ScoredCandidate(id=i, doc_id=i, score=s) for i, s in pairs])


def _l(*ids: str) -> Ranking:
    """A ranking of ids written ``lang:name``, best first."""
    cands = [ScoredCandidate(id=i, doc_id=i, score=-n, lang=i.split(":")[0]) for n, i in enumerate(ids)]
    return Ranking(query=Query(text="q"), candidates=cands)


@pytest.mark.fast
def test_balanced_fusion_by_hand() -> None:
    dense = _l("zh:a", "en:b", "de:c", "en:d", "zh:e")
    bm25 = _l("zh:e", "zh:f", "en:d", "zh:a")
    fused = balanced_fusion([dense, bm25], "zh")
    # the dense ranking's languages, place for place; within Chinese, RRF of the ranks among Chinese
    # candidates: e (2nd in dense, 1st in BM25) before a (1st, 3rd); f (BM25 only) finds no place and follows
    assert [c.id for c in fused] == ["zh:e", "en:b", "de:c", "en:d", "zh:a", "zh:f"]
    # BM25 does not count in English (not the query's language): d stays behind b
    assert [c.lang for c in fused[:5]] == [c.lang for c in dense.candidates]
    assert [c.score for c in fused] == sorted((c.score for c in fused), reverse=True)
    assert fused[0].score == pytest.approx(1 / 61)
    # a query language that is not known: BM25 counts everywhere (one language: plain RRF)
    assert [c.id for c in balanced_fusion([dense, bm25], None)][:5] == ["zh:e", "en:d", "de:c", "en:b", "zh:a"]
    one = [_l("en:a", "en:b", "en:c"), _l("en:c", "en:b")]
    assert [c.id for c in balanced_fusion(one, "en")] == [
        c.id for c in sorted(reciprocal_rank_fusion(one), key=lambda c: (-c.score, c.id))
    ]
    assert balanced_fusion([], "en") == []


def test_the_hybrid_keeps_the_languages_of_the_corrected_dense_ranking(demo_index) -> None:
    """Issue 26: RRF with BM25 handed the query's language the top ranks again (the demo's Chinese World Cup
    question got the Chinese solar-energy and Everest passages at ranks 2 and 3)."""
    queries = [
        Query(text="世界杯冠军最多的国家是哪个？", lang="zh"),
        Query(text="Who discovered artemisinin?", lang="en"),
        Query(text="Warum sterben die Bienen?"),  # language detected
        Query(text="Kilimanjaro", lang="sw"),
    ]
    hybrid, dense = demo_index.retriever("hybrid"), demo_index.retriever("dense")
    for q in queries:
        h, d = hybrid.retrieve(q, 10), dense.retrieve(q, 10)
        assert [c.lang for c in h.candidates] == [c.lang for c in d.candidates], q.text
    world_cup = hybrid.retrieve(queries[0], 5)
    cups = {"en-world-cup", "de-wm-2014", "es-mundial-1986", "ar-kas-alalam", "zh-shijiebei"}
    assert set(world_cup.doc_ids) == cups  # as dense retrieval (auto) returns them
    plain = demo_index.retriever("hybrid", fusion="rrf").retrieve(queries[0], 5)
    assert sum(c.lang == "zh" for c in plain.candidates) > sum(c.lang == "zh" for c in world_cup.candidates)


@pytest.mark.fast
def test_rrf_by_hand() -> None:
    fused = {c.id: c.score for c in reciprocal_rank_fusion([_r(("a", 9), ("b", 5)), _r(("b", 0.3), ("c", 0.1))])}
    assert fused == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 62})


@pytest.mark.fast
def test_weighted_fusion_by_hand() -> None:
    fused = {
        c.id: c.score
        for c in weighted_score_fusion(
            [_r(("a", 10), ("b", 5), ("c", 0)), _r(("c", 2.0), ("a", 1.0))], weights=[0.7, 0.3]
        )
    }
    assert fused == pytest.approx({"a": 0.7, "b": 0.35, "c": 0.3})


def test_weighted_hybrid_mode(demo_index) -> None:
    ranking = demo_index.retriever("hybrid", fusion="weighted", weights=[0.8, 0.2]).retrieve("malaria vaccine", 5)
    assert _sorted(ranking) and ranking.candidates[0].score <= 1.0 + 1e-9


def test_hybrid_rejects_bad_configuration(demo_index) -> None:
    dense = demo_index.retriever("dense")
    with pytest.raises(ValueError, match="2 weights for 1"):
        HybridRetriever([dense], weights=[1, 2])
    with pytest.raises(ValueError, match="unknown fusion"):
        HybridRetriever([dense], method="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown mode"):
        demo_index.retriever("sparse")  # type: ignore[arg-type]


def test_document_level_retrieval(demo_index) -> None:
    retriever = demo_index.retriever("dense", documents="maxp")
    assert isinstance(retriever.inner, DocumentRetriever) and isinstance(retriever, Retriever)
    ranking = retriever.retrieve("coffee", 5)
    assert ranking.level == "document" and ranking.ids == ranking.doc_ids
    assert len(set(ranking.ids)) == len(ranking.ids) == 5

"""Document-level retrieval (MaxP/FirstP) is exact: long documents beside short ones, against brute force."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from clir_rag.index import CrossLingualIndex
from clir_rag.retrieve import DocumentRetriever, HybridRetriever, reciprocal_rank_fusion
from clir_rag.types import Document, Query, Ranking

QUERIES = [
    Query(text="Who discovered artemisinin?", lang="en"),
    Query(text="Warum sterben die Bienen?", lang="de"),
    Query(text="世界杯冠军最多的国家是哪个？", lang="zh"),
    Query(text="coffee", lang="en"),
]


@pytest.fixture(scope="module")
def long_and_short(tmp_path_factory: pytest.TempPathFactory, demo_docs: list[Document], encoder) -> CrossLingualIndex:
    """The demo corpus (short documents) plus, per language, one long document: all its texts, six times over.

    The long documents' passages crowd the top of every passage ranking, which is where a fixed-depth
    aggregation returns fewer than k documents and misses some.
    """
    index = CrossLingualIndex(tmp_path_factory.mktemp("docs") / "i", encoder=encoder, max_tokens=32, overlap=8)
    index.add(_long_and_short_docs(demo_docs), progress=False)
    return index


def _long_and_short_docs(demo_docs: list[Document]) -> list[Document]:
    by_lang: dict[str, list[str]] = defaultdict(list)
    for d in demo_docs:
        by_lang[d.lang or "und"].append(d.text)
    long_docs = [
        Document(id=f"long-{lang}", lang=lang, title=f"Everything ({lang})", text="\n\n".join(texts * 6))
        for lang, texts in by_lang.items()
        if lang in ("en", "de", "zh")
    ]
    return [*demo_docs, *long_docs]


def _brute_maxp(index: CrossLingualIndex, scores: dict[str, float], method: str = "maxp") -> list[tuple[str, float]]:
    if not scores:
        return []
    meta = index.store.collection.get(ids=list(scores), include=["metadatas"])
    best: dict[str, float] = {}
    for pid, m in zip(meta["ids"], meta["metadatas"], strict=True):
        if method == "firstp" and m["index"] != 0:
            continue
        best[m["doc_id"]] = max(best.get(m["doc_id"], -np.inf), scores[pid])
    return sorted(best.items(), key=lambda x: (-x[1], x[0]))


def _dense_scores(index: CrossLingualIndex, query: Query) -> dict[str, float]:
    got = index.store.collection.get(include=["embeddings"])
    q = index.encoder.encode_queries([query.text])[0].astype(np.float64)
    return dict(zip(got["ids"], (np.asarray(got["embeddings"], dtype=np.float64) @ q).tolist(), strict=True))


def _bm25_scores(index: CrossLingualIndex, query: Query) -> dict[str, float]:
    return {pid: s for pid, s, _ in index.bm25.search(query.text, len(index))}


def _check(got: Ranking, want: list[tuple[str, float]], k: int) -> None:
    assert got.level == "document"
    assert got.ids == [d for d, _ in want[:k]]
    assert [c.score for c in got] == pytest.approx([s for _, s in want[:k]], abs=1e-5)


def test_long_documents_crowd_the_passage_ranking(long_and_short: CrossLingualIndex) -> None:
    """The situation the exact aggregation is for: 50 passages hold fewer than 10 documents."""
    top = long_and_short.search(QUERIES[0], 50, debias="none")
    assert len(set(top.doc_ids)) <= 10
    assert len(long_and_short) > 300


@pytest.mark.parametrize("path", ["in-memory", "store-search"])
@pytest.mark.parametrize("method", ["maxp", "firstp"])
def test_dense_documents_equal_brute_force(long_and_short: CrossLingualIndex, path: str, method: str) -> None:
    store = long_and_short.store
    saved = store.exact_limit
    store.exact_limit = saved if path == "in-memory" else 0
    try:
        retriever = long_and_short.retriever("dense", documents=method, debias="none")
        for query in QUERIES:
            want = _brute_maxp(long_and_short, _dense_scores(long_and_short, query), method)
            for k in (1, 10, 40):
                got = retriever.retrieve(query, k)
                _check(got, want, k)
                assert len(got) == min(k, len(want))
                # the passage that scores a document is that document's and carries the score
                for c in got:
                    assert c.metadata["passage_id"].startswith(f"{c.id}#")
    finally:
        store.exact_limit = saved


def test_bm25_documents_equal_brute_force(long_and_short: CrossLingualIndex) -> None:
    retriever = long_and_short.retriever("bm25", documents="maxp")
    for query in QUERIES:
        want = _brute_maxp(long_and_short, _bm25_scores(long_and_short, query))
        for k in (1, 10, 40):
            _check(retriever.retrieve(query, k), want, k)


def test_hybrid_documents_fuse_the_exact_document_rankings(long_and_short: CrossLingualIndex) -> None:
    retriever = long_and_short.retriever("hybrid", fusion="rrf", documents="maxp", debias="none")
    balanced = long_and_short.retriever("hybrid", documents="maxp", debias="none")
    dense = long_and_short.retriever("dense", documents="maxp", debias="none")
    assert isinstance(retriever.inner, DocumentRetriever) and isinstance(retriever.inner.retriever, HybridRetriever)
    depth = retriever.retriever.depth
    for query in QUERIES:
        rankings = []
        for scores in (_dense_scores(long_and_short, query), _bm25_scores(long_and_short, query)):
            ranked = _brute_maxp(long_and_short, scores)[:depth]
            rankings.append(
                Ranking(query=query, candidates=[_cand(d, s) for d, s in ranked], retriever="x", level="document")
            )
        fused = sorted(((c.id, c.score) for c in reciprocal_rank_fusion(rankings)), key=lambda x: (-x[1], x[0]))
        got = retriever.retrieve(query, 10)
        assert got.ids == [d for d, _ in fused[:10]]
        assert got.level == "document" and len(got) == 10
        # balanced fusion over the same exact document rankings: the dense ranking's languages, place for place
        fair = balanced.retrieve(query, 10)
        assert fair.level == "document" and len(fair) == 10
        assert [c.lang for c in fair.candidates] == [c.lang for c in dense.retrieve(query, 10).candidates]


def test_debiased_documents_equal_brute_force_maxp_of_the_corrected_scores(long_and_short: CrossLingualIndex) -> None:
    plain = long_and_short.retriever("dense", debias="center")
    docs = long_and_short.retriever("dense", documents="maxp", debias="center")
    for query in QUERIES:
        passages = plain.retrieve(query, len(long_and_short))  # every passage, exactly scored
        want = _brute_maxp(long_and_short, {c.id: c.score for c in passages})
        _check(docs.retrieve(query, 10), want, 10)


def _cand(doc_id: str, score: float):
    from clir_rag.types import ScoredCandidate

    return ScoredCandidate(id=doc_id, doc_id=doc_id, score=score)


def _fifty_queries(docs: list[Document]) -> list[Query]:
    texts = [d.title or d.text[:40] for d in docs] + [d.text.split(".")[0][:80] for d in docs]
    return [Query(text=t, id=f"q{i}") for i, t in enumerate(dict.fromkeys(texts))][:50]


@pytest.fixture(scope="module")
def built_again(tmp_path_factory: pytest.TempPathFactory, demo_docs, encoder) -> CrossLingualIndex:
    """The same corpus as ``long_and_short``, indexed again the same way.

    (The same way: the encoder's vectors move in the 7th decimal with the batch a passage is
    embedded in, which reorders passages that tie to that precision.)
    """
    again = CrossLingualIndex(tmp_path_factory.mktemp("again") / "i", encoder=encoder, max_tokens=32, overlap=8)
    again.add(_long_and_short_docs(demo_docs), progress=False)
    return again


@pytest.mark.parametrize("path", ["in-memory", "store-search"])
def test_the_same_corpus_indexed_twice_ranks_the_same(
    long_and_short: CrossLingualIndex, built_again: CrossLingualIndex, demo_docs, path: str
) -> None:
    """Two builds of one corpus give the same top 100 for 50 queries (Chroma's HNSW alone did not)."""
    again = built_again
    queries = _fifty_queries(demo_docs)
    assert len(queries) == 50
    for idx in (long_and_short, again):
        idx.store.exact_limit = 50_000 if path == "in-memory" else 0
    try:
        for q in queries:
            a = long_and_short.search(q, 100, debias="none")
            b = again.search(q, 100, debias="none")
            assert [c.score for c in a] == pytest.approx([c.score for c in b], abs=1e-6)
            if path == "in-memory":
                assert a.ids == b.ids  # ties broken by id over the whole collection
            else:  # the long documents repeat their text, so identical passages tie at the cut
                last = a.candidates[-1].score
                assert {c.id for c in a if c.score > last + 1e-6} == {c.id for c in b if c.score > last + 1e-6}
    finally:
        long_and_short.store.exact_limit = again.store.exact_limit = 50_000

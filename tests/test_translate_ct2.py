"""The CTranslate2 path on tiny NLLB-, M2M-100- and Marian-shaped models the tests build and convert themselves.

The model has random weights, so its output is gibberish; what is asserted is
the machinery: codes, target prefixes, batching, sentence splitting, long
inputs, caching and errors.
"""

import json
import shutil
from pathlib import Path

import pytest

ctranslate2 = pytest.importorskip("ctranslate2")
spm = pytest.importorskip("sentencepiece")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from clir_rag.errors import InputError, TranslationModelError, UnsupportedLanguageError  # noqa: E402
from clir_rag.translate import CTranslate2Translator  # noqa: E402
from tests.builders.tiny_nmt import M2M100_CODES, SENTENCES, build_tiny_marian, build_tiny_nllb  # noqa: E402


@pytest.fixture(scope="module")
def tiny_nllb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_nllb(tmp_path_factory.mktemp("tiny-nllb"))[1]


class Recorder:
    """Wraps the real ctranslate2.Translator to record the calls it receives."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, []

    def translate_batch(self, sources, **kwargs):
        self.calls.append((sources, kwargs))
        return self.inner.translate_batch(sources, **kwargs)


def _translator(path: Path, **kw) -> tuple[CTranslate2Translator, Recorder]:
    t = CTranslate2Translator(path, **kw)
    rec = Recorder(t._translator)
    t._translator = rec
    return t, rec


def test_family_codes_and_prefixes(tiny_nllb: Path) -> None:
    t, rec = _translator(tiny_nllb)
    assert t.family == "nllb"
    assert t.code_token("sw") == "swh_Latn" and t.code_token("hau") == "hau_Latn" and t.code_token("de") == "deu_Latn"
    out = t.translate(["The dog sleeps."], "en", "sw")
    assert len(out) == 1 and isinstance(out[0], str)
    sources, kwargs = rec.calls[0]
    assert sources[0][0] == "eng_Latn" and sources[0][-1] == "</s>"
    assert kwargs["target_prefix"] == [["swh_Latn"]]
    assert kwargs["batch_type"] == "tokens" and kwargs["beam_size"] == 1
    assert not out[0].startswith("swh_Latn")  # the prefix token is not part of the translation


def test_unsupported_language_and_same_language(tiny_nllb: Path) -> None:
    t, rec = _translator(tiny_nllb)
    with pytest.raises(UnsupportedLanguageError, match=r"'th' \(tha_Thai\) is not supported by the nllb model"):
        t.translate(["hello"], "en", "th")
    assert t.translate(["Hallo."], "de", "deu_Latn") == ["Hallo."]  # nothing to do
    assert rec.calls == []


def test_sentence_splitting_and_cache(tiny_nllb: Path, tmp_path: Path) -> None:
    t, rec = _translator(tiny_nllb, cache=tmp_path / "tcache.sqlite")
    text = "Der Hund schläft. Die Katze spielt! Kaffee wächst in Äthiopien?"
    t.translate([text, "Der Hund schläft."], "de", "en")
    assert t.stats.segments == 3 and t.stats.translated == 3  # the repeated sentence is translated once
    assert len(rec.calls[0][0]) == 3
    again, rec2 = _translator(tiny_nllb, cache=tmp_path / "tcache.sqlite")
    first = t.translate([text], "de", "en")
    assert again.translate([text], "de", "en") == first
    assert again.stats.cache_hits == 3 and again.stats.translated == 0 and rec2.calls == []


def test_long_sentence_is_split_not_truncated(tiny_nllb: Path) -> None:
    t, rec = _translator(tiny_nllb, max_input_tokens=20)
    long = " ".join(["Der Hund schläft im Haus"] * 30)  # one "sentence", hundreds of pieces
    t.translate([long], "de", "en")
    sources = rec.calls[0][0]
    pieces = sum(len(s) - 2 for s in sources)  # minus language code and </s>
    assert len(sources) > 5 and all(len(s) - 2 <= 20 for s in sources)
    assert pieces == len(t._sp_src.encode(long, out_type=str))  # every piece made it in


def test_token_batching_keeps_order(tiny_nllb: Path) -> None:
    small, _ = _translator(tiny_nllb, max_batch_tokens=8)
    big, _ = _translator(tiny_nllb, max_batch_tokens=4096)
    texts = SENTENCES[:5]
    assert small.translate_segments(texts, "en", "de") == big.translate_segments(texts, "en", "de")


def test_bad_inputs(tiny_nllb: Path, tmp_path: Path) -> None:
    (tmp_path / "not-a-model").mkdir()
    (tmp_path / "not-a-model" / "config.json").write_text("{}")
    with pytest.raises(TranslationModelError, match="not a CTranslate2 model directory"):
        CTranslate2Translator(tmp_path / "not-a-model")
    no_spm = tmp_path / "no-spm"
    shutil.copytree(tiny_nllb, no_spm)
    (no_spm / "sentencepiece.bpe.model").unlink()
    with pytest.raises(TranslationModelError, match="no SentencePiece model"):
        CTranslate2Translator(no_spm)
    t = CTranslate2Translator(tiny_nllb)
    with pytest.raises(InputError, match="text 1 of the batch is empty"):
        t.translate(["ok", "  "], "de", "en")


def _docs():
    from clir_rag.types import Document

    return [
        Document(id=f"d{i}", text=s, lang=lang, title="Titel" if i == 0 else None)
        for i, (s, lang) in enumerate(
            [
                (SENTENCES[1], "de"),
                (SENTENCES[2], "sw"),
                (SENTENCES[5], "de"),
                (SENTENCES[0], "en"),
                (SENTENCES[6], "sw"),
                ("Der Hund.", "de"),
            ]
        )
    ]


class FailAfter(CTranslate2Translator):
    """The real translator, killed after ``ok`` backend calls: an interrupted run."""

    ok = 1  # one call per batch (its texts and titles together)

    def translate_segments(self, segments, src, tgt):
        if self.batches >= self.ok:
            raise KeyboardInterrupt("simulated interruption")
        return super().translate_segments(segments, src, tgt)


def test_corpus_translation_resumes_and_is_idempotent(tiny_nllb: Path, tmp_path: Path) -> None:
    from clir_rag.corpus import read_corpus
    from clir_rag.translate.corpus import translate_corpus

    out = tmp_path / "translated.jsonl"
    with pytest.raises(KeyboardInterrupt):
        translate_corpus(_docs(), FailAfter(tiny_nllb), "en", out, batch_size=2, progress=False)
    first = [json.loads(x) for x in out.read_text().splitlines()]
    assert 1 <= len(first) < 6
    with out.open("a") as fh:
        fh.write('{"id": "half-writ')  # a record cut off by the interruption
    t, _ = _translator(tiny_nllb)
    stats = translate_corpus(_docs(), t, "en", out, batch_size=2, progress=False)
    assert stats.skipped == len(first) and stats.translated + stats.copied == 6 - len(first)
    docs = read_corpus(out)
    assert sorted(d.id for d in docs) == [f"d{i}" for i in range(6)]
    by_id = {d.id: d for d in docs}
    assert all(d.lang == "en" for d in docs)
    assert by_id["d1"].metadata["original_text"] == SENTENCES[2] and by_id["d1"].metadata["original_lang"] == "sw"
    assert by_id["d3"].text == SENTENCES[0]  # already English: copied, not translated
    assert by_id["d0"].metadata["original_title"] == "Titel"
    # a rerun does nothing; a changed document is translated again and replaces its record
    again, rec2 = _translator(tiny_nllb)
    assert translate_corpus(_docs(), again, "en", out, progress=False).skipped == 6 and rec2.calls == []
    changed = _docs()
    changed[2] = changed[2].model_copy(update={"text": "Kaffee wächst in Kenia."})
    stats = translate_corpus(changed, again, "en", out, progress=False)
    assert stats.translated == 1 and stats.skipped == 5
    docs = read_corpus(out)  # still one record per id
    assert len(docs) == 6 and {d.id: d for d in docs}["d2"].metadata["original_text"] == "Kaffee wächst in Kenia."


def test_translate_cli(tiny_nllb: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from clir_rag.cli import app

    corpus = tmp_path / "c.jsonl"
    corpus.write_text("\n".join(json.dumps(d.model_dump(exclude={"metadata"})) for d in _docs()) + "\n")
    args = ["translate", str(corpus), "--to", "en", "--model", str(tiny_nllb), "-o", str(tmp_path / "en.jsonl")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Translated 5 documents into en (1 already in en, 0 done before)" in result.output
    again = CliRunner().invoke(app, args)
    assert "Translated 0 documents" in again.output and "6 done before" in again.output
    bad = CliRunner().invoke(app, [*args[:4], "--model", str(tmp_path), "-o", str(tmp_path / "x.jsonl")])
    assert bad.exit_code == 1 and "not a CTranslate2 model directory" in bad.output
    th = CliRunner().invoke(app, [*args[:2], "--to", "th", *args[4:6], "-o", str(tmp_path / "th.jsonl")])
    assert th.exit_code == 1 and "not supported by the nllb model" in th.output


def test_query_translation_and_translated_document_retrieval(tiny_nllb: Path, tmp_path: Path, encoder) -> None:
    from typer.testing import CliRunner

    from clir_rag.cli import app
    from clir_rag.index import CrossLingualIndex
    from clir_rag.retrieve import QueryTranslationBM25Retriever, translated_hybrid
    from clir_rag.types import Query

    corpus = tmp_path / "c.jsonl"
    corpus.write_text("\n".join(json.dumps(d.model_dump(exclude={"metadata"})) for d in _docs()) + "\n")
    original = CrossLingualIndex(tmp_path / "orig", encoder=encoder)
    original.add(_docs(), progress=False)
    # BM25-QT: the query reaches each language's sub-index in that language
    translator, rec = _translator(tiny_nllb)
    qt = QueryTranslationBM25Retriever(original.bm25, original.store, translator)
    ranking = qt.retrieve(Query(text="The dog sleeps.", lang="en"), 5, langs=["de", "sw", "en", "th"])
    searched, skipped = ranking.metadata["query_translations"], ranking.metadata["skipped_languages"]
    assert set(searched) == {"de", "sw", "en"} and set(skipped) == {"th"}
    assert searched["en"] == "The dog sleeps."
    # what a call learned stays with its ranking: the next query's does not overwrite it
    again = qt.retrieve(Query(text="The dog sleeps.", lang="en"), 5, langs=["de"])
    assert set(again.metadata["query_translations"]) == {"de"} and again.metadata["skipped_languages"] == {}
    assert set(ranking.metadata["query_translations"]) == {"de", "sw", "en"}
    assert {kw["target_prefix"][0][0] for _, kw in rec.calls} == {"deu_Latn", "swh_Latn"}
    assert {c.lang for c in ranking.candidates} <= {"de", "sw", "en"}
    # BM25-DT: `index --translate-to` builds an index of translations that keeps the originals
    result = CliRunner().invoke(
        app, ["index", str(corpus), "--index", str(tmp_path / "dt"), "--translate-to", "en", "--model", str(tiny_nllb)]
    )
    assert result.exit_code == 0, result.output
    dt = CrossLingualIndex(tmp_path / "dt", encoder=encoder)
    assert {meta["doc_id"] for _, _, meta in dt.store.iter_passages()} == {f"d{i}" for i in range(6)}
    assert set(dt.bm25.languages) == {"en"}
    hit = dt.search("dog", k=6, mode="bm25").candidates
    assert hit and all(c.metadata["original_lang"] in {"de", "sw", "en"} for c in hit)
    fused = translated_hybrid(original, dt).retrieve(Query(text="The dog sleeps in the house.", lang="en"), 6)
    assert set(fused.ids) <= {f"d{i}" for i in range(6)} and fused.ids == fused.doc_ids
    scores = [c.score for c in fused]
    assert scores == sorted(scores, reverse=True)
    bad = CliRunner().invoke(app, ["index", str(corpus), "--index", str(tmp_path / "x"), "--translate-to", "en"])
    assert bad.exit_code == 1 and "--translate-to needs --model" in bad.output


def test_translation_postprocessor_translates_and_restores(tiny_nllb: Path, tmp_path: Path) -> None:
    import asyncio

    pytest.importorskip("llama_index.core")
    from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode
    from llama_index.postprocessor.clir_rag import ListwiseLLMRerank, TranslationPostprocessor

    from clir_rag.llm import LLMClient
    from clir_rag.testing.llm_faults import FaultyLLM

    nodes = [
        NodeWithScore(node=TextNode(text=t, metadata={"lang": lang, "doc_id": f"d{i}"}), score=1.0 - i / 10)
        for i, (t, lang) in enumerate([(SENTENCES[1], "de"), (SENTENCES[0], "en"), (SENTENCES[2], "sw")])
    ]
    translator, rec = _translator(tiny_nllb)
    translate = TranslationPostprocessor(translator)
    out = translate.postprocess_nodes(nodes, query_str="Where does the dog sleep at night?")
    assert [n.node.metadata["lang"] for n in out] == ["en", "en", "en"]
    assert out[1] is nodes[1]  # already English: untouched
    assert out[0].node.metadata["original_text"] == SENTENCES[1] and out[0].node.metadata["original_lang"] == "de"
    assert "original_text" not in out[0].node.get_content(metadata_mode=MetadataMode.LLM)
    assert nodes[0].node.metadata == {"lang": "de", "doc_id": "d0"}  # the caller's nodes are not modified
    assert {kw["target_prefix"][0][0] for _, kw in rec.calls} == {"eng_Latn"}
    # translate -> rerank (a fault-injecting judge that reverses the order) -> restore
    rerank = ListwiseLLMRerank(LLMClient(FaultyLLM([], default="[3] > [2] > [1]")), window=3, step=1)
    reranked = rerank.postprocess_nodes(out, query_str="Where does the dog sleep at night?")
    restored = TranslationPostprocessor.restore().postprocess_nodes(reranked)
    assert [n.node.get_content() for n in restored] == [SENTENCES[2], SENTENCES[0], SENTENCES[1]]
    assert [n.node.metadata["lang"] for n in restored] == ["sw", "en", "de"]
    again = asyncio.run(TranslationPostprocessor(translator, target_lang="de").apostprocess_nodes(nodes))
    assert again[0] is nodes[0] and again[1].node.metadata["original_lang"] == "en"
    with pytest.raises(ValueError, match="needs a translator"):
        TranslationPostprocessor()


def test_translation_postprocessor_events_unsupported_languages_and_concurrent_queries(
    tiny_nllb: Path, llamaindex_events: list
) -> None:
    import asyncio

    pytest.importorskip("llama_index.core")
    from llama_index.core.schema import NodeWithScore, TextNode
    from llama_index.postprocessor.clir_rag import TranslationPostprocessor
    from llama_index.postprocessor.clir_rag.events import TranslationEndEvent, TranslationStartEvent

    def nodes() -> list[NodeWithScore]:
        texts = [(SENTENCES[1], "de"), (SENTENCES[0], "en"), ("หมานอนอยู่ในบ้าน", "th"), (SENTENCES[2], "sw")]
        return [NodeWithScore(node=TextNode(text=t, metadata={"lang": lang}), score=1.0) for t, lang in texts]

    translate = TranslationPostprocessor(_translator(tiny_nllb)[0])
    out = translate.postprocess_nodes(nodes(), query_str="Where does the dog sleep at night?")
    # Thai is not in the tiny model: that node stays as it is, says why, and the others are still translated
    assert [n.node.metadata["lang"] for n in out] == ["en", "en", "th", "en"]
    assert "not supported" in out[2].node.metadata["translation_skipped"]
    assert out[2].node.get_content() == "หมานอนอยู่ในบ้าน"
    start = next(e for e in llamaindex_events if isinstance(e, TranslationStartEvent))
    end = next(e for e in llamaindex_events if isinstance(e, TranslationEndEvent))
    assert len(start.nodes) == 4 and start.target_lang == "en" and len(end.nodes) == 4 and end.translated == 2

    # eight queries at once, in English and German: each gets its nodes in its own query's language
    queries = ["Where does the dog sleep at night?", "Wo schläft der Hund in der Nacht?"] * 4

    async def run_all() -> list[list[NodeWithScore]]:
        return await asyncio.gather(*(translate.apostprocess_nodes(nodes()[:2], query_str=q) for q in queries))

    for query, result in zip(queries, asyncio.run(run_all()), strict=True):
        want = "en" if query.startswith("Where") else "de"
        assert [n.node.metadata["lang"] for n in result] == [want, want]


def test_family_detection_from_the_vocabulary() -> None:
    from clir_rag.translate.ctranslate2_backend import detect_family

    assert detect_family(["<s>", "▁the", "eng_Latn", "deu_Latn"]) == "nllb"
    assert detect_family(["<s>", "▁the", "__en__", "__de__"]) == "m2m100"
    assert detect_family(["<s>", "▁der", "▁Hund"]) == "marian"


def test_m2m100_codes_and_prefixes(tmp_path: Path) -> None:
    model = build_tiny_nllb(tmp_path / "m2m", codes=M2M100_CODES)[1]
    t, rec = _translator(model)
    assert t.family == "m2m100" and t.code_token("swh") == "__sw__" and t.code_token("deu_Latn") == "__de__"
    out = t.translate(["Der Hund schläft."], "de", "sw")
    sources, kwargs = rec.calls[0]
    assert sources[0][0] == "__de__" and sources[0][-1] == "</s>" and kwargs["target_prefix"] == [["__sw__"]]
    assert len(out) == 1 and "__sw__" not in out[0]
    with pytest.raises(UnsupportedLanguageError, match=r"'ru' \(__ru__\) is not supported by the m2m100 model"):
        t.translate(["Hallo."], "de", "ru")


def test_marian_single_pair(tmp_path: Path) -> None:
    built = build_tiny_marian(tmp_path / "tiny")[1]
    model = built.rename(tmp_path / "opus-mt-de-en-ct2")  # the directory name tells the pair, as opus-mt's do
    t, rec = _translator(model)
    assert t.family == "marian" and t.pair == ("de", "en") and t.code_token("en") is None
    out = t.translate(["Der Hund schläft. Kaffee wächst in Äthiopien."], "deu", "en")
    sources, kwargs = rec.calls[0]
    assert len(sources) == 2 and all(s[-1] == "</s>" and not s[0].startswith(">>") for s in sources)
    assert kwargs["target_prefix"] is None and len(out) == 1
    with pytest.raises(UnsupportedLanguageError, match="translates from 'de', not 'sw'"):
        t.translate(["Mbwa analala."], "sw", "en")
    with pytest.raises(UnsupportedLanguageError, match="translates into 'en', not 'fr'"):
        t.translate(["Der Hund."], "de", "fr")
    unnamed = CTranslate2Translator(model, pair=("sw", "en"))  # given explicitly, it wins over the name
    assert unnamed.pair == ("sw", "en")
    with pytest.raises(ValueError, match="pair= is for Marian models"):
        CTranslate2Translator(build_tiny_nllb(tmp_path / "nllb")[1], pair=("de", "en"))


def test_marian_multi_target_token_starts_the_source(tmp_path: Path) -> None:
    model = build_tiny_marian(tmp_path / "multi", targets=[">>deu<<", ">>swh<<"])[1]
    t, rec = _translator(model)
    assert t.family == "marian" and t.pair is None
    t.translate(["The dog sleeps."], "en", "sw")
    t.translate(["The dog sleeps."], "en", "de")
    assert [c[0][0][0] for c in rec.calls] == [">>swh<<", ">>deu<<"]
    assert all(c[1]["target_prefix"] is None for c in rec.calls)
    with pytest.raises(UnsupportedLanguageError, match=r"not a target of the Marian model .*>>deu<<, >>swh<<"):
        t.translate(["The dog sleeps."], "en", "fi")


def test_concurrent_first_requests_load_the_model_once(tiny_nllb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 25: the model was a cached_property built without a lock; /translate calls it from worker threads."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    loads: list[int] = []
    real_load = CTranslate2Translator._load_model

    def counting_load(self: CTranslate2Translator):
        loads.append(threading.get_ident())
        time.sleep(0.2)  # a load takes a while (the tiny model loads at once): the other threads arrive meanwhile
        return real_load(self)

    monkeypatch.setattr(CTranslate2Translator, "_load_model", counting_load)  # a spy: the real loader runs
    t = CTranslate2Translator(tiny_nllb)
    start = threading.Barrier(16)

    def first_request(i: int) -> str:
        start.wait(timeout=60)
        return t.translate([SENTENCES[0]], "en", "de")[0]

    with ThreadPoolExecutor(16) as pool:
        out = list(pool.map(first_request, range(16)))
    assert len(loads) == 1
    assert len(out) == 16 and all(isinstance(o, str) for o in out)


def test_a_backend_that_loses_a_translation_is_a_one_line_error(
    tiny_nllb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 25: a bare RuntimeError (a traceback in the CLI) when a backend returned too few translations."""
    from typer.testing import CliRunner

    from clir_rag.cli import app

    real = CTranslate2Translator.translate_segments

    def loses_the_last(self, segments, src, tgt):  # the fault: a backend bug no real model makes on demand
        return real(self, segments, src, tgt)[:-1]

    monkeypatch.setattr(CTranslate2Translator, "translate_segments", loses_the_last)
    with pytest.raises(TranslationModelError, match=r"returned 1 translations for 2 segments \(de -> en\)"):
        CTranslate2Translator(tiny_nllb).translate(["Der Hund schläft. Die Katze spielt."], "de", "en")
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "d1", "lang": "de", "text": "Der Hund schläft. Die Katze spielt."}) + "\n")
    args = ["translate", str(corpus), "--to", "en", "--model", str(tiny_nllb), "-o", str(tmp_path / "en.jsonl")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "error:" in result.output and "returned 1 translations for 2 segments" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, TranslationModelError)

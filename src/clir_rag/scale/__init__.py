"""Corpus-scale work on Ray: embedding, translation and reranking by workers on a Ray cluster.

- ``RayEmbedder`` plugs into :meth:`clir_rag.index.CrossLingualIndex.add` (``clir-rag index --ray``):
  encoder actors over Ray Data.
- ``RayTranslator`` plugs into :func:`clir_rag.translate.corpus.translate_corpus`
  (``clir-rag translate --ray``): CTranslate2 actors over Ray Data.
- ``RayReranker`` plugs into :func:`clir_rag.rerank.run.rerank_run` (``clir-rag rerank --ray``):
  a run's queries spread over workers that call OpenAI-compatible servers, a bounded number per server.

Reading, validation, the resume rule and every write stay in the driver, so the result is the one
the single-process path builds; only the model calls move to Ray (one model load per actor, on
CPUs or GPUs, on this machine or a cluster). Needs the ``[ray]`` extra.
"""

from clir_rag.scale._ray import start_ray
from clir_rag.scale.embedding import RayEmbedder
from clir_rag.scale.reranking import RayReranker, endpoints_from, server_reranker
from clir_rag.scale.translation import RayTranslator

__all__ = ["RayEmbedder", "RayReranker", "RayTranslator", "endpoints_from", "server_reranker", "start_ray"]

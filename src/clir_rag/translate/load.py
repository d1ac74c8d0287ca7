"""The corpus translator a command names: a CTranslate2 model here, or the same model on Ray actors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clir_rag.translate.corpus import CorpusTranslator


def load_translator(
    model: str | Path,
    *,
    cache: str | Path | None = None,
    ray: bool = False,
    ray_address: str | None = None,
    ray_actors: int = 2,
    ray_gpus: float = 0.0,
    **options: Any,
) -> CorpusTranslator:
    """The CTranslate2 model at ``model`` for :func:`~clir_rag.translate.corpus.translate_corpus`.

    In this process (:class:`~clir_rag.translate.ctranslate2_backend.CTranslate2Translator`), or
    with ``ray`` on ``ray_actors`` Ray actors of ``ray_gpus`` GPUs each
    (:class:`clir_rag.scale.RayTranslator`; ``ray_address``: a cluster, else ``RAY_ADDRESS`` or Ray
    on this machine). ``cache`` is the sentence translation cache (SQLite); ``options`` (e.g.
    ``beam_size``) go to the translator.
    """
    if ray:
        from clir_rag.scale import RayTranslator

        return RayTranslator(model, actors=ray_actors, cache=cache, num_gpus=ray_gpus, address=ray_address, **options)
    from clir_rag.translate.ctranslate2_backend import CTranslate2Translator

    return CTranslate2Translator(model, cache=cache, **options)

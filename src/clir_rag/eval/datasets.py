"""Which collection a config's ``dataset`` names: :func:`load_collection`, shared by every config-driven run.

The eval harness (:mod:`clir_rag.eval.experiment`) and the RAG check (:mod:`clir_rag.rag.experiment`) both
read their collection through it, so a ``dataset`` section means the same in both configs. Each loader is
imported only when its type is asked for.
"""

from __future__ import annotations

from pathlib import Path

from clir_rag.config import DatasetSpec
from clir_rag.eval.collection import Collection

__all__ = ["load_collection"]


def load_collection(spec: DatasetSpec, data: str | Path | None) -> Collection:
    """The collection ``spec`` names, its other keys passed to that loader; relative paths are taken from the
    working directory. ``data``: the folder holding ``xquad/`` and ``ciral/`` (default: ``$CLIR_RAG_DATA`` or
    ``../shared/data``).
    """
    from clir_rag.eval.xquad import default_data_dir

    args = dict(spec.model_extra or {})
    root = Path(data) if data else default_data_dir()
    if spec.type == "xquad":
        from clir_rag.eval.xquad import load_xquad

        return load_xquad(args.pop("query_lang", "en"), args.pop("doc_langs", "de"), root / "xquad", **args)
    if spec.type == "ciral":
        from clir_rag.eval.ciral import load_ciral

        return load_ciral(data_dir=args.pop("data_dir", root / "ciral"), **args)
    if spec.type == "clef":
        from clir_rag.eval.clef import load_clef

        return load_clef(**args)
    from clir_rag.eval.generic import load_generic

    return load_generic(**args)

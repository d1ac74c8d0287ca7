"""Changing a loaded config where a top-level override cannot: the arguments of its dataset's loader.

:func:`clir_rag.config.load_yaml_config` replaces top-level keys (``data``, ``out``, ``limit``); a
dataset loader's arguments (CIRAL's ``corpus``, say) are extra keys of the ``dataset`` section, which
:func:`with_dataset_args` sets on a copy, so that a config once loaded is never changed in place.
"""

from __future__ import annotations

from typing import Any, TypeVar

from clir_rag.config import ExperimentConfig, RagCheckConfig

C = TypeVar("C", ExperimentConfig, RagCheckConfig)


def with_dataset_args(cfg: C, **args: Any) -> C:
    """A copy of ``cfg`` whose ``dataset`` section also holds ``args`` (those not None), replacing any so named.

    They reach the dataset's loader as keyword arguments (see
    :func:`clir_rag.eval.experiment.load_collection`), as if the YAML had them under ``dataset``.
    """
    args = {k: v for k, v in args.items() if v is not None}
    if not args:
        return cfg
    return cfg.model_copy(update={"dataset": cfg.dataset.model_copy(update=args)})

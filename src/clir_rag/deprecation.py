"""Old names kept for one release: the one way a module offers them, each with a warning.

A module that renamed or moved a public name keeps a map of old name -> ``"home.module.NewName"``
and answers from its ``__getattr__``::

    _RENAMED = {"IndexStats": "clir_rag.index.writer.AddReport"}

    def __getattr__(name: str) -> Any:
        return renamed(__name__, name, _RENAMED)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from importlib import import_module
from typing import Any


def renamed(module: str, name: str, names: Mapping[str, str]) -> Any:
    """What the old ``name`` of ``module`` stands for now, with a :class:`DeprecationWarning` at the user's line.

    ``names`` maps each old name to the dotted path of what replaces it; any other name raises
    :class:`AttributeError`, as a missing attribute does. The target is imported only when asked for,
    so a module may offer old names from modules it must not import at load time.
    """
    target = names.get(name)
    if target is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    home, _, new = target.rpartition(".")
    # stack: this function, the module's __getattr__, then the code that asked for the name
    warnings.warn(
        f"{module}.{name} is deprecated: use {new} (from {home}); the old name goes in the next release",
        DeprecationWarning,
        stacklevel=3,
    )
    return getattr(import_module(home), new)

"""The package's surface: its version and its errors."""

from __future__ import annotations

import inspect
from importlib.metadata import version

import clir_rag
from clir_rag import errors


def test_version_comes_from_the_installed_metadata() -> None:
    assert clir_rag.__version__ == version("clir-rag")


def test_every_error_class_is_a_clir_rag_error_exported_at_the_top_level() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert len(classes) >= 12
    for cls in classes:
        assert issubclass(cls, errors.ClirRagError)
        assert getattr(clir_rag, cls.__name__) is cls and cls.__name__ in clir_rag.__all__
        assert cls.__doc__, f"{cls.__name__} has no docstring"

"""CI's guard against a silently thinner suite: with ``CLIR_RAG_REQUIRE_EXTRAS=1``, a failed import fails.

Tests of optional parts skip with ``pytest.importorskip`` when an extra is not installed, which is right on a
laptop with only the core. In CI every extra is installed (``make test``), so such a skip means a broken
install that would otherwise pass unnoticed as a shorter run: this plugin turns it into a failure naming the
module. Skips for other reasons (no ``../shared`` data, no Chromium) stay skips.

It wraps ``pytest.importorskip`` rather than reading skip reports, because many calls here give their own
``reason=`` ("needs the [serve] extra"), so a report cannot tell an import skip from any other. The
variable is read at each call, so a test (or pytester) can set or clear it.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

ENV = "CLIR_RAG_REQUIRE_EXTRAS"


def required() -> bool:
    """Whether this run must have every extra: ``CLIR_RAG_REQUIRE_EXTRAS`` set to anything but empty or 0."""
    return os.environ.get(ENV, "").strip() not in ("", "0")


def _strict(original: Any) -> Any:
    def importorskip(modname: str, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # a skip's location stays the caller's line, as with pytest's own
        try:
            return original(modname, *args, **kwargs)
        except pytest.skip.Exception as skipped:
            if not required():
                raise
            why = skipped.msg
        # outside the except clause: the failure alone, not chained under the skip
        pytest.fail(
            f"{ENV}=1: module {modname!r} is required but could not be imported ({why}); "
            "install the extras (make test does) or unset the variable",
            pytrace=False,
        )

    importorskip.__doc__ = original.__doc__
    importorskip.__wrapped__ = original  # type: ignore[attr-defined]
    return importorskip


def pytest_configure(config: pytest.Config) -> None:
    # patched only while this config lives; a nested run (pytester) restores what it found
    config.stash[_saved] = pytest.importorskip
    pytest.importorskip = _strict(pytest.importorskip)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _saved in config.stash:
        pytest.importorskip = config.stash[_saved]


_saved = pytest.StashKey[Any]()

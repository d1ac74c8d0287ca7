"""CLIR_RAG_REQUIRE_EXTRAS=1 (CI) turns a skip for a module that failed to import into a failure naming it;
other skips stay skips, and without the variable nothing changes."""

from __future__ import annotations

import pytest

from tests._require_extras import ENV, required

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.fast

MISSING = "clir_rag_no_such_extra_module"

TESTS = f"""
import pytest

@pytest.fixture
def needs_extra():
    return pytest.importorskip("{MISSING}.sub", reason="needs the [nope] extra")

def test_in_a_fixture(needs_extra):
    pass

def test_in_the_test():
    pytest.importorskip("{MISSING}")

def test_a_module_there():
    assert pytest.importorskip("json").dumps(1) == "1"

def test_a_version_too_old():
    pytest.importorskip("json", minversion="999")

def test_no_data():
    pytest.skip("shared data not found at ../shared/data")
"""

MODULE_LEVEL = f"""
import pytest

pytest.importorskip("{MISSING}", reason="needs the [nope] extra")

def test_never_collected():
    pass
"""


def _run(pytester: pytest.Pytester, **files: str) -> pytest.RunResult:
    pytester.makepyfile(**files)
    return pytester.runpytest("-p", "tests._require_extras", "-p", "no:asyncio", "-p", "no:cacheprovider", "-ra")


def test_without_the_variable_import_skips_stay_skips(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    result = _run(pytester, test_inside=TESTS, test_module_level=MODULE_LEVEL)
    result.assert_outcomes(passed=1, skipped=5)
    out = result.stdout.str()
    # the reason and the caller's line, as pytest's own importorskip reports them
    assert "test_module_level.py:3: needs the [nope] extra" in out, out
    assert "test_inside.py:7: needs the [nope] extra" in out, out
    assert f"test_inside.py:11: could not import '{MISSING}'" in out, out


@pytest.mark.parametrize(("value", "on"), [(None, False), ("", False), ("0", False), ("1", True), ("yes", True)])
def test_the_variable_is_read_at_each_call(monkeypatch: pytest.MonkeyPatch, value: str | None, on: bool) -> None:
    if value is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, value)
    assert required() is on


def test_with_the_variable_an_import_skip_fails_naming_the_module(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "1")
    before = pytest.importorskip
    result = _run(pytester, test_inside=TESTS)
    assert pytest.importorskip is before  # the patch ends with the run that made it
    # in a fixture: an error; in a test: a failure; a module that is there still imports
    result.assert_outcomes(passed=1, skipped=1, failed=2, errors=1)
    out = result.stdout.str()
    for name, why in (
        (f"'{MISSING}.sub'", "(needs the [nope] extra)"),
        (f"'{MISSING}'", f"(could not import '{MISSING}'"),
        ("'json'", "(module 'json' has __version__"),
    ):
        assert f"{ENV}=1: module {name} is required but could not be imported {why}" in out, out
    assert "test_inside.py:20: shared data not found" in out, out  # not an import: still a skip
    assert "During handling" not in out  # one message, not the skip chained under it


def test_with_the_variable_a_module_level_import_skip_is_a_collection_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "1")
    result = _run(pytester, test_module_level=MODULE_LEVEL)
    assert result.ret == pytest.ExitCode.INTERRUPTED  # a collection error stops the run before any test
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "ERROR collecting test_module_level.py" in out
    assert f"{ENV}=1: module '{MISSING}' is required but could not be imported (needs the [nope] extra)" in out, out

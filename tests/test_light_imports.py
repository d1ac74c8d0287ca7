"""What an import loads: reading a config loads no evaluation code, reading citations no answer machinery.

Each check runs in a fresh interpreter, since this one has imported everything the other tests use.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.fast  # no LLM, server or index build: in the fast tier (make test-fast)


def _loaded_after(module: str, prefix: str) -> list[str]:
    """The modules under ``prefix`` that ``import module`` puts in ``sys.modules`` of a fresh interpreter."""
    code = (
        f"import sys, {module}\n"
        f"print('\\n'.join(sorted(m for m in sys.modules if m == {prefix!r} or m.startswith({prefix!r} + '.'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.split()


def test_reading_a_config_loads_no_evaluation_code() -> None:
    # clir_rag.eval's package imports every dataset loader; configs are read by train and serve paths too
    assert _loaded_after("clir_rag.config", "clir_rag.eval") == []
    # the same helper does see an import that loads it
    assert "clir_rag.eval.metrics" in _loaded_after("clir_rag.eval.metrics", "clir_rag.eval")


def test_reading_citations_loads_neither_the_check_nor_the_generator() -> None:
    loaded = _loaded_after("clir_rag.rag.citations", "clir_rag.rag")
    assert loaded == ["clir_rag.rag", "clir_rag.rag.citations"]
    assert "clir_rag.rag.generate" in _loaded_after("clir_rag.rag.generate", "clir_rag.rag")


def test_the_rag_package_still_gives_every_name_it_lists() -> None:
    code = (
        # the submodule ``citations`` loaded first: the package's name ``citations`` must still be the function
        "import sys, clir_rag.rag as rag, clir_rag.rag.citations\n"
        "from clir_rag.rag import AnswerGenerator, best_match, citations, run_rag_check\n"
        "from clir_rag.rag.generate import AnswerGenerator as G\n"
        "assert citations is sys.modules['clir_rag.rag.citations'].citations and AnswerGenerator is G\n"
        "assert callable(best_match) and callable(run_rag_check)\n"
        "assert all(getattr(rag, n) is not None for n in rag.__all__)\n"
        "try:\n    rag.no_such_name\nexcept AttributeError as e:\n    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "no attribute 'no_such_name'" in done.stdout

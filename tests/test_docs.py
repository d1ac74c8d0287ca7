"""The README's Python blocks and the examples run as written."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"readme-block-{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(code: str, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip()


def test_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 2


def test_llamaindex_example_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "llamaindex_query_engine.py"), str(tmp_path / "idx")],
        capture_output=True,
        text=True,
        timeout=1500,  # the embedded model on a busy 2-core machine: only the CI budget bounds it
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "de-malaria-medikament" in result.stdout
    assert "kilimanjaro" in result.stdout.split("Mlima mrefu")[1]

"""Helpers of the core's tests (the shared fixtures are in the repository root's conftest.py)."""

from __future__ import annotations

from pathlib import Path


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path

"""The RAG examples run offline on the embedded defaults, as their docstrings say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("llama_cpp")


def _run(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_llamaindex_rag_example_answers_in_english_from_german_and_russian(tmp_path: Path) -> None:
    out = _run(str(ROOT / "examples" / "cross_lingual_rag_llamaindex.py"), "--index", str(tmp_path / "idx"))
    answer = next(line for line in out.splitlines() if line.startswith("A: "))
    assert "1989" in answer  # the date is only in the German and Russian documents
    sources = out.split("Sources")[1]
    assert "[de] de-berliner-mauer: Die Berliner Mauer" in sources  # original text restored after reranking
    assert "[en]" not in sources


def test_qa_app_answers_a_german_question_and_checks_the_answer_language(tmp_path: Path) -> None:
    question = "Wie hoch ist der Kilimandscharo?"
    out = _run(str(ROOT / "examples" / "multilingual_qa_app.py"), "--ask", question, "--index", str(tmp_path / "idx"))
    assert f"Q: {question}" in out and "answer language de:" in out
    assert "kilimand" in out.lower().split("answer language")[1]  # a Kilimanjaro passage is among the sources
    assert "(no answer" not in out


def test_langchain_chain_example_answers_from_the_german_document_and_cites_it(tmp_path: Path) -> None:
    pytest.importorskip("langchain_clir_rag")
    out = _run(str(ROOT / "examples" / "langchain_qa_chain.py"), "--index", str(tmp_path / "idx"))
    answer = next(line for line in out.splitlines() if line.startswith("A: "))
    assert "1989" in answer  # the date is only in the German and Russian documents
    sources = out.split("Sources:")[1]
    assert "[1] [de] de-berliner-mauer (first stage #" in sources and "[ru]" in sources
    assert answer.startswith("A: [1]")  # it cites the German passage, where the date is

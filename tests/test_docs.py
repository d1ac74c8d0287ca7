"""The documentation runs as written: README.md and docs/*.md, and the examples.

Every fenced code block of README.md and docs/*.md is either run here (a ```python block) or marked as an
illustration, with the reason, by an HTML comment on the line right before its fence:

    <!-- illustration: needs an OpenAI-compatible LLM server -->

A marked ```python block is not run but must still compile. Every relative link must point at a file that
exists (and, for a link into a Markdown file with #anchor, at one of its headings). The runnable blocks each
load the embedded models in a fresh process, so there are few of them: move a block rather than add one.
"""

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
MARKER = re.compile(r"^\s*<!--\s*illustration\b(?P<rest>.*?)-->\s*$")
MAX_RUNNABLE = 8  # each runnable block costs a model load in CI (issue 28: about 7)


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it opens, its language, its code and its illustration marker."""

    where: str  # "docs/x.md:12", the line of the opening fence
    lang: str
    code: str
    marker: str | None  # the marker line right before the fence, if any
    closed: bool


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def parse(path: Path) -> tuple[list[Block], list[str], list[str]]:
    """The blocks of one file, its lines outside code blocks, and its stray markers (not right before a fence)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    prose: list[str] = []
    stray: list[str] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            if MARKER.match(lines[i]) and not (i + 1 < len(lines) and FENCE.match(lines[i + 1])):
                stray.append(f"{_rel(path)}:{i + 1}")
            prose.append(lines[i])
            i += 1
            continue
        fence = m.group("fence")
        close = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = next((j for j in range(i + 1, len(lines)) if close.match(lines[j])), len(lines))
        marker = lines[i - 1] if i > 0 and MARKER.match(lines[i - 1]) else None
        blocks.append(
            Block(
                where=f"{_rel(path)}:{i + 1}",
                lang=m.group("info").lower(),
                code="\n".join(lines[i + 1 : end]) + "\n",
                marker=marker,
                closed=end < len(lines),
            )
        )
        prose.extend("" for _ in range(i, min(end + 1, len(lines))))
        i = end + 1
    return blocks, prose, stray


PARSED = {path: parse(path) for path in DOC_FILES}
BLOCKS = [block for blocks, _, _ in PARSED.values() for block in blocks]
RUNNABLE = [b for b in BLOCKS if b.lang == "python" and b.marker is None]


def block_problems(block: Block) -> list[str]:
    """Why a block breaks the rule (empty when it keeps it)."""
    problems = []
    if not block.closed:
        problems.append(f"{block.where}: the code block is never closed")
    if block.marker is not None:
        marker = MARKER.match(block.marker)
        assert marker is not None
        reason = marker.group("rest").strip()
        if not reason.startswith(":") or not reason[1:].strip():
            problems.append(f"{block.where}: the illustration marker gives no reason: <!-- illustration: why -->")
        if block.lang == "python":
            try:
                compile(block.code, block.where, "exec")
            except SyntaxError as e:
                problems.append(f"{block.where}: the illustrated Python block does not compile: {e}")
    elif block.lang != "python":
        problems.append(
            f"{block.where}: a ```{block.lang or '(no language)'} block that is not run: mark it, on the line "
            "before its fence, with <!-- illustration: why it is not run -->"
        )
    return problems


@pytest.mark.fast
def test_every_block_runs_or_is_marked() -> None:
    problems = [p for block in BLOCKS for p in block_problems(block)]
    for _, _, stray in PARSED.values():
        problems += [f"{where}: an illustration marker that is not right before a code fence" for where in stray]
    assert not problems, "\n".join(problems)


@pytest.mark.fast
def test_block_rules_are_checked() -> None:
    """The checker itself: an unmarked block, a marker without a reason, a broken illustration."""
    assert block_problems(Block("x.md:1", "bash", "ls\n", None, True))
    assert block_problems(Block("x.md:1", "", "ls\n", None, True))
    assert block_problems(Block("x.md:1", "text", "out\n", "<!-- illustration -->", True))
    assert block_problems(Block("x.md:1", "text", "out\n", "<!-- illustration:  -->", True))
    assert block_problems(Block("x.md:1", "python", "f(\n", "<!-- illustration: needs a server -->", True))
    assert not block_problems(Block("x.md:1", "text", "out\n", "<!-- illustration: output shown -->", True))
    assert not block_problems(Block("x.md:1", "python", "print(1)\n", None, True))


@pytest.mark.fast
def test_docs_have_python_blocks() -> None:
    assert any(b.where.startswith("README.md:") for b in RUNNABLE), "the README's Python quickstart must run"
    assert 2 <= len(RUNNABLE) <= MAX_RUNNABLE, [b.where for b in RUNNABLE]


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.where for b in RUNNABLE])
def test_doc_example_runs(block: Block, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", block.code], cwd=tmp_path, capture_output=True, text=True, timeout=1500
    )
    assert result.returncode == 0, f"{block.where}:\n{result.stderr[-3000:]}"
    assert result.stdout.strip(), f"{block.where} printed nothing"


LINK = re.compile(r"\]\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(?P<target>[^>\s]+)>?")


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings (outside code blocks)."""
    seen: dict[str, int] = {}
    out = set()
    for line in parse(path)[1]:
        m = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def link_problems(path: Path) -> list[str]:
    problems = []
    for number, line in enumerate(PARSED[path][1], start=1):
        targets = [m.group("target") for m in LINK.finditer(line)]
        targets += [m.group("target") for m in REFERENCE.finditer(line)]
        for target in targets:
            if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file, _, anchor = target.partition("#")
            resolved = (path.parent / file).resolve() if file else path
            where = f"{_rel(path)}:{number}: {target}"
            if not resolved.exists():
                problems.append(f"{where}: no such file")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                problems.append(f"{where}: no heading with that anchor in {resolved.name}")
    return problems


@pytest.mark.fast
def test_relative_links_resolve() -> None:
    problems = [p for path in DOC_FILES for p in link_problems(path)]
    assert not problems, "\n".join(problems)


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

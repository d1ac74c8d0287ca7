"""The package's surface and shape: its version, its errors, its import graph, what ships in it."""

from __future__ import annotations

import ast
import inspect
from importlib.metadata import version
from pathlib import Path

import pytest

import clir_rag
from clir_rag import errors

pytestmark = pytest.mark.fast  # no LLM, server or index build: in the fast tier (make test-fast)


def test_version_comes_from_the_installed_metadata() -> None:
    assert clir_rag.__version__ == version("clir-rag")


def test_every_error_class_is_a_clir_rag_error_exported_from_errors() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert len(classes) >= 12
    for cls in classes:
        assert issubclass(cls, errors.ClirRagError) and cls.__name__ in errors.__all__
        assert cls.__doc__, f"{cls.__name__} has no docstring"


def test_the_public_api_is_pinned() -> None:
    """The top level is what a RAG application reaches for first; a name added here is a decision."""
    assert sorted(clir_rag.__all__) == [
        "AnswerGenerator",
        "ClirRagError",
        "CrossLingualIndex",
        "Document",
        "LLMClient",
        "LLMTranslator",
        "ListwiseReranker",
        "PairwiseReranker",
        "Passage",
        "Query",
        "Ranking",
        "Run",
        "default_llm",
    ]
    for name in clir_rag.__all__:
        assert getattr(clir_rag, name).__doc__, name


def test_names_that_left_the_top_level_still_work_and_say_where_they_went() -> None:
    from clir_rag.index import AddReport
    from clir_rag.retrieve import HybridRetriever

    with pytest.warns(DeprecationWarning, match=r"clir_rag.InputError is deprecated.*clir_rag.errors"):
        assert clir_rag.InputError is errors.InputError  # type: ignore[attr-defined]
    with pytest.warns(DeprecationWarning, match="clir_rag.retrieve"):
        assert clir_rag.HybridRetriever is HybridRetriever  # type: ignore[attr-defined]
    with pytest.warns(
        DeprecationWarning, match=r"clir_rag.IndexStats is deprecated: use AddReport \(from clir_rag.index.writer\)"
    ):
        assert clir_rag.IndexStats is AddReport  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="no attribute 'Nonesuch'"):
        clir_rag.Nonesuch  # type: ignore[attr-defined]  # noqa: B018


SRC = Path(clir_rag.__file__).resolve().parent


def _import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module -> the package modules it imports, counting imports inside functions and TYPE_CHECKING blocks."""
    top = src.name
    modules = {
        ".".join(f.relative_to(src.parent).with_suffix("").parts).removesuffix(".__init__"): f
        for f in src.rglob("*.py")
    }

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, file in modules.items():
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                target = owner(name) if name.split(".")[0] == top else None
                if not target:
                    continue
                # importing a.b.c runs a/__init__ and a/b/__init__ first: a cycle through a parent package's
                # __init__ is a cycle too; the parents this module shares with its target have run already
                parts = target.split(".")
                for end in range(2, len(parts) + 1):
                    step = ".".join(parts[:end])
                    # a package importing its own submodules is how packages are built, not a cycle
                    if step != module and not module.startswith(step + ".") and not step.startswith(module + "."):
                        graph[module].add(step)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append([*path[path.index(n) :], n])
            elif n not in state:
                visit(n, [*path, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    return cycles


def test_no_import_cycles_among_the_package_modules() -> None:
    graph = _import_graph()
    assert len(graph) > 60
    cycles = _cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_sees_cycles_through_a_parent_package_init(tmp_path: Path) -> None:
    """``a`` imports ``b.x`` and ``b`` imports ``a.y``: no module imports the other directly, but importing
    ``b.x`` runs ``b/__init__``, which imports ``a.y``, which runs ``a/__init__`` -- a cycle."""
    pkg = tmp_path / "pkg"
    for folder, text in {"a": "from pkg.b.x import X\n", "b": "from pkg.a.y import Y\n"}.items():
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text(text)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "y.py").write_text("Y = 1\n")
    (pkg / "b" / "x.py").write_text("X = 1\n")
    assert _cycles(_import_graph(pkg)) == [["pkg.a", "pkg.b", "pkg.a"]]
    (pkg / "b" / "__init__.py").write_text("")  # the package init imports nothing: no cycle
    assert _cycles(_import_graph(pkg)) == []


def _shipped() -> list[Path]:
    """The package's modules that ship in the wheel: all but clir_rag.testing, the tests' helpers, which the
    wheel leaves out (tests/test_distributions.py checks the built wheel)."""
    return [f for f in SRC.rglob("*.py") if SRC / "testing" not in f.parents]


def test_no_test_helpers_ship_in_the_package() -> None:
    names = {f.stem for f in _shipped()}
    assert not names & {"fixtures", "tiny", "conftest"}
    for f in _shipped():
        text = f.read_text(encoding="utf-8")
        assert "import pytest" not in text and "from tests" not in text, f


def _public_without_docstring(root: Path) -> list[str]:
    """Public classes, functions and methods (``__call__`` included) that have no docstring."""
    missing = []
    for file in sorted(root.rglob("*.py")):

        def visit(body: list[ast.stmt], prefix: str, file: Path = file) -> None:
            for node in body:
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    continue
                if node.name == "__init__" or (node.name.startswith("_") and node.name != "__call__"):
                    continue  # a class's docstring documents its construction
                if not ast.get_docstring(node):
                    missing.append(f"{file.relative_to(root.parent)}:{node.lineno} {prefix}{node.name}")
                if isinstance(node, ast.ClassDef):
                    visit(node.body, f"{prefix}{node.name}.")

        visit(ast.parse(file.read_text(encoding="utf-8")).body, "")
    return missing


def test_every_public_class_and_method_has_a_docstring() -> None:
    integrations = Path(__file__).resolve().parents[1] / "integrations"
    missing = _public_without_docstring(SRC)
    packages = [*sorted(integrations.glob("*/llama_index")), integrations / "langchain-clir-rag" / "langchain_clir_rag"]
    for package in packages:
        missing += _public_without_docstring(package)
    assert not missing, f"{len(missing)} without a docstring: " + ", ".join(missing[:20])


def test_the_core_imports_no_rag_framework() -> None:
    """LlamaIndex and LangChain code lives in the integration packages; the core works without either."""
    found = []
    for file in _shipped():
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [
                f"{file.relative_to(SRC)}: {n}"
                for n in names
                if n.split(".")[0] in {"llama_index", "langchain_core", "langchain"}
            ]
    assert not found, found


def test_the_makefile_builds_the_llama_cpp_release_the_package_pins() -> None:
    """The Makefile builds llama-cpp-python's wheel itself (its flags, its own wheel folder): the release it
    names must be the one pyproject.toml's [local] extra pins, or the install would build one and take another."""
    import re
    import tomllib

    root = Path(__file__).resolve().parents[1]
    pinned = [
        r
        for r in tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]["local"]
        if r.startswith("llama-cpp-python")
    ]
    built = re.search(r"^LLAMA_CPP\s*:?=\s*(\S+)", (root / "Makefile").read_text(), re.M)
    assert built is not None and pinned == [built.group(1)]

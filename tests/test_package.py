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


def test_every_error_class_is_a_clir_rag_error_exported_at_the_top_level() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert len(classes) >= 12
    for cls in classes:
        assert issubclass(cls, errors.ClirRagError)
        assert getattr(clir_rag, cls.__name__) is cls and cls.__name__ in clir_rag.__all__
        assert cls.__doc__, f"{cls.__name__} has no docstring"


SRC = Path(clir_rag.__file__).resolve().parent


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, counting imports inside functions and TYPE_CHECKING blocks."""
    modules = {
        ".".join(f.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__"): f
        for f in SRC.rglob("*.py")
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
                target = owner(name) if name.startswith("clir_rag") else None
                # a package importing its own submodules is how packages are built, not a cycle
                if target and target != module and not target.startswith(module + "."):
                    graph[module].add(target)
    return graph


def test_no_import_cycles_among_the_package_modules() -> None:
    graph = _import_graph()
    assert len(graph) > 60
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
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_test_helpers_ship_in_the_package() -> None:
    names = {f.stem for f in SRC.rglob("*.py")}
    assert not names & {"fixtures", "tiny", "conftest"}
    for f in SRC.rglob("*.py"):
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
    for file in SRC.rglob("*.py"):
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

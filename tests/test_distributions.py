"""Each integration package builds a wheel (``python -m build``) and installs alone beside the core.

The wheels are built from copies of the package folders (nothing is written into the
repository) and installed with pip into a fresh virtual environment holding only the core
wheel and that one package; their third-party dependencies (llama-index-core, chromadb, ...)
come from this test environment through a path entry added after the install, so the
test needs no network.
"""

from __future__ import annotations

import email
import json
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("build", reason="needs the build package (dev extra)")

ROOT = Path(__file__).resolve().parents[1]
# distribution -> (import path, the classes it exports)
PACKAGES = {
    "llama-index-retrievers-clir-rag": ("llama_index.retrievers.clir_rag", ["CrossLingualRetriever"]),
    "llama-index-postprocessor-clir-rag": (
        "llama_index.postprocessor.clir_rag",
        ["ListwiseLLMRerank", "PairwiseLLMRerank", "TranslationPostprocessor"],
    ),
    "llama-index-llms-clir-rag": ("llama_index.llms.clir_rag", ["ClirRagLLM"]),
    "langchain-clir-rag": (
        "langchain_clir_rag",
        ["CrossLingualRetriever", "ListwiseLLMReranker", "PairwiseLLMReranker", "TranslationTransformer"],
    ),
}


def _pip(python: Path, *args: str) -> None:
    """This environment's pip, installing into the environment of ``python`` (which needs no pip of its own)."""
    command = [sys.executable, "-m", "pip", "--python", str(python), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def _build(source: Path, work: Path) -> Path:
    """The wheel of the project at ``source``, built from a copy of it (sdist, then the wheel from the sdist)."""
    copy = work / source.name
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "tests", ".venv"))
    out = work / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(copy)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    name = tomllib.loads((source / "pyproject.toml").read_text())["project"]["name"].replace("-", "_")
    (wheel,) = out.glob(f"{name}-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("wheels")
    core = work / "clir-rag"
    core.mkdir()
    for item in ("pyproject.toml", "README.md", "src"):
        (shutil.copytree if (ROOT / item).is_dir() else shutil.copy)(ROOT / item, core / item)
    built = {"clir-rag": _build(core, work / "core-build")}
    for dist in PACKAGES:
        built[dist] = _build(ROOT / "integrations" / dist, work / dist)
    return built


@pytest.mark.parametrize("dist", list(PACKAGES))
def test_the_wheel_holds_its_namespace_only_and_its_metadata_names_it(wheels: dict[str, Path], dist: str) -> None:
    import_path, classes = PACKAGES[dist]
    pyproject = tomllib.loads((ROOT / "integrations" / dist / "pyproject.toml").read_text())
    with zipfile.ZipFile(wheels[dist]) as zf:
        names = zf.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_string(zf.read(meta_name).decode())
    folder = import_path.replace(".", "/") + "/"
    code = [n for n in names if ".dist-info/" not in n]
    assert code and all(n.startswith(folder) for n in code), code  # no llama_index/__init__.py, no tests
    assert folder + "py.typed" in code and folder + "__init__.py" in code
    assert metadata["Name"] == dist
    requires = metadata.get_all("Requires-Dist") or []
    assert any(r.startswith("clir-rag") and "<" in r for r in requires)
    if dist.startswith("llama-index-"):
        namespace = dist.removeprefix("llama-index-").removesuffix("-clir-rag")
        assert import_path == f"llama_index.{namespace}.clir_rag"  # the distribution names its namespace
        llamahub = pyproject["tool"]["llamahub"]
        assert llamahub["import_path"] == import_path and set(llamahub["class_authors"]) == set(classes)
        core_req = next(r for r in requires if r.startswith("llama-index-core"))
        assert ">=" in core_req and "<" in core_req  # bounded, as LlamaIndex packages are


def test_the_core_wheel_holds_no_test_helpers(wheels: dict[str, Path]) -> None:
    """clir_rag.testing (fault-injecting LLMs, server helpers, the shared fixtures) is in src/ for the tests of a
    source checkout; the wheel leaves it out."""
    assert (ROOT / "src" / "clir_rag" / "testing" / "fixtures.py").is_file()  # there to be left out
    with zipfile.ZipFile(wheels["clir-rag"]) as zf:
        names = zf.namelist()
    assert "clir_rag/__init__.py" in names and "clir_rag/llm/__init__.py" in names
    assert [n for n in names if n.startswith("clir_rag/testing/")] == []


@pytest.mark.slow
@pytest.mark.parametrize("dist", list(PACKAGES))
def test_installs_alone_into_a_fresh_venv_beside_the_core(wheels: dict[str, Path], dist: str, tmp_path: Path) -> None:
    import_path, classes = PACKAGES[dist]
    venv = tmp_path / "venv"
    # without pip: bootstrapping one into each venv cost more than the rest of the test
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    _pip(python, "install", "--quiet", "--no-deps", "--no-index", str(wheels["clir-rag"]), str(wheels[dist]))
    # third-party dependencies from this environment, after the venv's own site-packages: its .pth files
    # (the editable installs of the other packages) are not read, so only the wheels' code is importable
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True
        ).strip()
    )
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    others = [p for d, (p, _) in PACKAGES.items() if d != dist]
    probe = f"""
import importlib, importlib.util, json
from importlib.metadata import distribution, version
from packaging.requirements import Requirement
module = importlib.import_module({import_path!r})
missing = [c for c in {classes!r} if not hasattr(module, c)]
import clir_rag
unmet = []
for req in map(Requirement, distribution({dist!r}).requires or []):
    if req.marker is not None and not req.marker.evaluate({{"extra": ""}}):
        continue
    try:
        if not req.specifier.contains(version(req.name), prereleases=True):
            unmet.append(f"{{req}}: {{version(req.name)}}")
    except Exception as e:
        unmet.append(f"{{req}}: {{e!r}}")
def present(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
print(json.dumps({{"file": module.__file__, "core": clir_rag.__file__, "missing": missing, "unmet": unmet,
                  "others": [o for o in {others!r} if present(o)]}}))
"""
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["file"].startswith(str(venv)) and seen["core"].startswith(str(venv))  # from the wheels
    assert seen["missing"] == [] and seen["unmet"] == []
    assert seen["others"] == []  # alone: none of the other integration packages came with it

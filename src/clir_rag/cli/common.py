"""What every ``clir-rag`` command shares: the consoles, the options several take, and errors turned into exit codes.

Exit codes: 0 success; 1 an error (one line on stderr, nothing half-written); 2 bad usage (typer);
3 a run that finished but whose LLM or translator failed on more than --max-failed-ratio of its calls.
The codes, and when a run's failed LLM answers give 1 or 3, are :mod:`clir_rag.outcome`'s (one rule,
three commands); a ClirRagError raised in a command's :func:`exit_on_error` block is the one line and code 1.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from clir_rag.errors import ClirRagError, InputError, missing_extra
from clir_rag.outcome import EXIT_ERROR, EXIT_OK

# soft_wrap: messages carry paths that users copy; never break them across lines
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

IndexDir = Annotated[Path, typer.Option("--index", "-i", help="Index directory.")]
ChromaUrl = Annotated[
    str | None, typer.Option(help="Chroma server URL (for search: overrides the one the index recorded).")
]
Wait = Annotated[
    bool, typer.Option("--wait", help="If another process is writing the index, wait for it instead of failing.")
]

UseRay = Annotated[
    bool,
    typer.Option(
        "--ray", help="Run the model on actors on Ray (RAY_ADDRESS or --ray-address; else Ray on this machine)."
    ),
]
RayAddress = Annotated[str | None, typer.Option(help="The Ray cluster for --ray (ray://host:10001, or auto).")]
RayActors = Annotated[int, typer.Option(min=1, help="Model actors for --ray (one model load each).")]
RayGpus = Annotated[float, typer.Option(min=0.0, help="GPUs per actor for --ray (st: encoders, CTranslate2).")]

MaxFailed = Annotated[
    float,
    typer.Option(
        min=0.0,
        max=1.0,
        help="Exit with code 3 when more than this share of LLM answers failed (output still written).",
    ),
]

_debug = False


def set_debug(debug: bool) -> None:
    """Whether an error prints its full traceback (``clir-rag --debug ...``) as well as its one line."""
    global _debug
    _debug = debug


def fail(e: Exception) -> typer.Exit:
    """Print ``e`` as one ``error:`` line on stderr (its traceback too with --debug); the exit to raise (code 1)."""
    if _debug and sys.exc_info()[0] is not None:
        err_console.print_exception()
    # escaped: messages hold brackets ("the [st] extra", "[2] > [1]") that rich would read as markup
    err_console.print(f"[bold red]error:[/] {escape(str(e))}", markup=True, highlight=False)
    return typer.Exit(code=EXIT_ERROR)


@contextmanager
def exit_on_error(extra: tuple[str, str] | None = None) -> Iterator[None]:
    """Turn a :class:`~clir_rag.errors.ClirRagError` raised in the block into :func:`fail`'s line and exit code 1.

    With ``extra`` (what needs it, the extra's name), any ImportError in the block is that extra,
    named, ahead of its own message (a missing-extra error is an ImportError too). Other
    exceptions pass: they are bugs, and their traceback is the report.
    """
    try:
        yield
    except Exception as e:
        if extra is not None and isinstance(e, ImportError):
            raise fail(missing_extra(extra[0], extra[1], e)) from None
        if isinstance(e, ClirRagError):
            raise fail(e) from None
        raise


def require_index(index_dir: Path) -> None:
    """Stop with one line when ``index_dir`` holds no index (opening it would create one)."""
    if not (index_dir / "clir-rag.json").exists():
        raise fail(InputError(f"{index_dir} is not a clir-rag index (no clir-rag.json); run 'clir-rag index' first"))


def warn(message: str, label: str = "warning") -> None:
    """Print ``label: message`` on stderr, the label in bold yellow; ``message`` is printed as it is (no markup)."""
    err_console.print(f"[bold yellow]{label}:[/] {escape(message)}", highlight=False)


def exit_with(code: int) -> None:
    """End the command with ``code`` unless it is :data:`~clir_rag.outcome.EXIT_OK` (then the command just returns)."""
    if code != EXIT_OK:
        raise typer.Exit(code=code)

"""The ``clir-rag`` command line: index a corpus, search it, run the offline demo.

Each command parses its options, calls one function of the stage it drives (which Python callers
share) and prints what came back. The commands by group: :mod:`~clir_rag.cli.index` (index, search,
calibrate, stats, demo), :mod:`~clir_rag.cli.translate`, :mod:`~clir_rag.cli.rerank`,
:mod:`~clir_rag.cli.evaluate` (eval, rag-check), :mod:`~clir_rag.cli.train` (train, export-encoder),
:mod:`~clir_rag.cli.serve`; the consoles, shared options and exit codes are in :mod:`~clir_rag.cli.common`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from clir_rag.cli import evaluate, index, rerank, serve, train, translate
from clir_rag.cli.common import set_debug

__all__ = ["app"]

app = typer.Typer(
    help="Cross-lingual retrieval for RAG: index documents in many languages, search them in any.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # click's plain help: typer's rich help prints a "<bool>" placeholder after every flag
    rich_markup_mode=None,
)


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Print the full traceback of an error.")] = False,
) -> None:
    set_debug(debug)


# in the order --help lists them
app.command()(index.index)
app.command()(index.search)
app.command()(index.calibrate)
app.command()(index.stats)
app.command()(translate.translate)
app.command()(rerank.rerank)
app.command("eval")(evaluate.eval_)
app.command()(train.train)
app.command("rag-check")(evaluate.rag_check)
app.command()(serve.serve)
app.command("export-encoder")(train.export_encoder_)
app.command()(index.demo)

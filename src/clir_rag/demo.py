"""The offline demo: index the bundled multilingual corpus and search it across languages."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from rich.console import Console

from clir_rag.corpus import read_corpus
from clir_rag.display import print_ranking
from clir_rag.index import CrossLingualIndex
from clir_rag.types import Query

# (query, its language, languages to search or None for all, mode)
DEMO_QUERIES: list[tuple[str, str, list[str] | None, str]] = [
    ("Who discovered the drug artemisinin against malaria?", "en", None, "dense"),
    ("How high is Kilimanjaro and who climbed it first?", "en", ["de", "sw"], "hybrid"),
    ("Warum sterben die Bienen?", "de", None, "dense"),
    ("Malaria inaenezwaje na jinsi gani ya kujikinga?", "sw", ["en", "fr", "de", "zh"], "hybrid"),
    ("世界杯冠军最多的国家是哪个？", "zh", None, "dense"),
]


def demo_corpus_path() -> Path:
    """Path of the bundled demo corpus (JSONL, 41 passages in 8 languages)."""
    return Path(str(resources.files("clir_rag") / "data" / "demo_corpus.jsonl"))


def build_demo_index(index_dir: str | Path, progress: bool = True) -> CrossLingualIndex:
    """Index the embedded demo corpus (six languages) into ``index_dir``; a second call embeds nothing."""
    idx = CrossLingualIndex(index_dir)
    idx.add(read_corpus(demo_corpus_path()), progress=progress)
    return idx


def run_demo(index_dir: str | Path = "demo-index", k: int = 5, console: Console | None = None) -> None:
    """Build the demo index and print the top ``k`` for questions asked in several languages (offline)."""
    console = console or Console()
    docs = read_corpus(demo_corpus_path())
    langs = sorted({d.lang for d in docs if d.lang})
    console.print(f"[bold]clir-rag demo[/]: {len(docs)} passages in {len(langs)} languages ({', '.join(langs)})")
    idx = CrossLingualIndex(index_dir)
    stats = idx.add(docs, progress=True)
    console.print(
        f"Index at {index_dir}: {stats.embedded} passages embedded, {stats.skipped} already there "
        f"(encoder {idx.encoder.spec}, {idx.encoder.dim} dims).\n"
    )
    for text, lang, only, mode in DEMO_QUERIES:
        ranking = idx.retriever(mode).retrieve(Query(text=text, lang=lang), k, langs=only)  # type: ignore[arg-type]
        where = f"documents in {', '.join(only)}" if only else "all languages"
        print_ranking(ranking, title=f"[{lang}] {text}  ({ranking.retriever}, {where})", console=console)
        console.print()
    console.print(
        "Dense scores are corrected for language bias (dense-center): without it, a question's own language "
        "crowds out the others. Compare: clir-rag search QUESTION --index "
        f"{index_dir} --debias none"
    )

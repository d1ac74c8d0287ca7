"""Terminal output shared by the command line and the demo: rankings as tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from clir_rag.types import Ranking

_TITLE_CHARS = 300


def print_ranking(ranking: Ranking, title: str | None = None, console: Console | None = None) -> None:
    """Print ``ranking`` as a table (rank, score, language, document id, snippet) on ``console``.

    Snippets are cut to the terminal's width by display cells, so CJK text (two cells a
    character) does not wrap.
    """
    console = console or Console(soft_wrap=True)
    if title is not None and len(title) > _TITLE_CHARS:  # a pasted document as the query: say so, not print it
        title = f"{title[:_TITLE_CHARS]}... ({len(title):,} characters)"
    table = Table(title=title, title_justify="left")
    for name, justify in (("rank", "right"), ("score", "right"), ("lang", "left"), ("doc id", "left")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("snippet", no_wrap=True)
    id_width = max((len(c.doc_id) for c in ranking.candidates), default=6)
    room = max(20, console.width - id_width - 30)
    for rank, cand in enumerate(ranking.candidates, start=1):
        snippet = Text(" ".join(cand.text.split()))
        snippet.truncate(room, overflow="ellipsis")
        table.add_row(str(rank), f"{cand.score:.4f}", cand.lang or "?", cand.doc_id, snippet)
    console.print(table)

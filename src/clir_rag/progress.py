"""Progress for long work (indexing, translation): a rich bar, a caller's callback, or nothing."""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[int, int], None]


def progress_reporter(progress: bool | ProgressCallback, total: int, label: str) -> Callable[[int | None], None]:
    """A function taking the number done (None when finished) that drives a rich bar or a callback."""
    if callable(progress):
        return lambda done: progress(done, total) if done is not None else None
    if not progress or total == 0:
        return lambda done: None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # on stderr, so that what a command prints on stdout can be piped
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=False,
        console=Console(stderr=True),
    )
    task = bar.add_task(label, total=total)
    bar.start()

    def report(done: int | None) -> None:
        if done is None:
            bar.stop()
        else:
            bar.update(task, completed=done)

    return report

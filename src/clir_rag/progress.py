"""Progress for long work (indexing, translation): a rich bar, plain log lines, a caller's callback, or nothing.

The bar is drawn on a terminal; without one (a CI log, a pipe) plain lines go to stderr
instead: at the start, every :data:`LOG_EVERY_S` seconds, and at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

ProgressCallback = Callable[[int, int], None]


def progress_reporter(progress: bool | ProgressCallback, total: int, label: str) -> Callable[[int | None], None]:
    """A function taking the number done (None when finished) that drives a rich bar or a callback."""
    if callable(progress):
        return lambda done: progress(done, total) if done is not None else None
    if not progress or total == 0:
        return lambda done: None
    if not sys.stderr.isatty():
        return _log_lines(total, label)
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


# Without a terminal (a CI log, nohup, a pipe) a rich bar prints nothing until it ends; a plain
# line this often keeps a long run visible.
LOG_EVERY_S = 30.0


def _log_lines(total: int, label: str, every: float = LOG_EVERY_S) -> Callable[[int | None], None]:
    """Plain progress lines on stderr: at the start, every ``every`` seconds, and at the end."""
    start = time.monotonic()
    last = [start]
    seen = [0]

    def line(done: int) -> None:
        secs = time.monotonic() - start
        rate = done / secs if secs > 0 else 0.0
        eta = f", {(total - done) / rate:.0f}s left" if 0 < rate and done < total else ""
        print(f"{label}: {done}/{total} ({100 * done / total:.0f}%, {rate:.1f}/s{eta})", file=sys.stderr, flush=True)

    print(f"{label}: 0/{total}", file=sys.stderr, flush=True)

    def report(done: int | None) -> None:
        now = time.monotonic()
        if done is None:
            line(seen[0])
        else:
            seen[0] = done
            if now - last[0] >= every:
                last[0] = now
                line(done)

    return report

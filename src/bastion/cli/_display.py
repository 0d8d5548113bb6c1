"""What ``bastion demo`` shows while it runs and at the end: rich when installed, else text.

``rich`` is an optional extra (``pip install 'bastion[cli]'``): a library install does not
pull 13 MB of terminal niceties. Without it the demo prints the same numbers as plain
lines: one progress line a second on stderr and an aligned summary table on stdout.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import time
from collections.abc import Iterator
from typing import Protocol, TextIO

from bastion.demo import DemoSummary
from bastion.demo._pipeline import DemoProgress

__all__ = ["Display", "PlainDisplay", "RICH_HINT", "has_rich", "make_display", "summary_rows"]

RICH_HINT = "for a live progress bar and a table, install the extra: pip install 'bastion[cli]'"


class Display(Protocol):
    """Live progress on stderr and the closing summary on stdout."""

    def running(self) -> contextlib.AbstractContextManager[None]:
        """Context for the run: the live display is on inside it."""

    def progress(self, snapshot: DemoProgress) -> None:
        """Show a progress snapshot."""

    def summary(self, summary: DemoSummary) -> None:
        """Print the closing account."""


def has_rich() -> bool:
    """Whether the optional ``rich`` package can be imported."""
    try:
        return importlib.util.find_spec("rich") is not None
    except (ImportError, ValueError):  # a broken or blocked install counts as absent
        return False


def summary_rows(summary: DemoSummary) -> list[tuple[str, object]]:
    """The closing table, one (label, value) row per line."""
    return [
        ("accepted", summary.accepted),
        ("completed", summary.completed),
        ("failed (with reason)", summary.failed),
        *((f"  · {reason}", n) for reason, n in sorted(summary.failed_reasons.items())),
        ("retried steps", summary.retried),
        ("reassigned steps", summary.reassigned),
        ("actor restarts", summary.restarts),
        ("chaos kills", summary.chaos_kills),
        ("health samples (monitor)", summary.health_samples),
        *((f"  · alert: {kind}", n) for kind, n in sorted(summary.health_alerts.items())),
        ("resumed from a previous run", summary.resumed),
        ("unfinished", summary.unfinished),
        ("lost (must be 0)", summary.lost),
        ("seconds", summary.seconds),
    ]


class PlainDisplay:
    """Text only: a progress line a second (unless quiet) and an aligned table."""

    def __init__(self, *, quiet: bool, err: TextIO | None = None, out: TextIO | None = None):
        self.quiet = quiet
        self.err = err or sys.stderr
        self.out = out or sys.stdout
        self._next_line = 0.0

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """On a terminal, say once how to get the live display."""
        if not self.quiet and self.err.isatty():
            print(f"bastion demo: {RICH_HINT}", file=self.err)
        yield

    def progress(self, snapshot: DemoProgress) -> None:
        """One ``progress:`` line, at most once a second."""
        if self.quiet or time.monotonic() < self._next_line:
            return
        self._next_line = time.monotonic() + 1.0
        print(
            f"progress: {snapshot.finished}/{snapshot.accepted} finished, running "
            f"{snapshot.running}, restarts {snapshot.restarts}, retried {snapshot.retried}",
            file=self.err,
            flush=True,
        )

    def summary(self, summary: DemoSummary) -> None:
        """A title line and one aligned ``label  value`` line per row."""
        rows = summary_rows(summary)
        width = max(len(label) for label, _ in rows)
        lines = [f"bastion demo — {summary.db}"]
        lines += [f"  {label:<{width}}  {value:>8}" for label, value in rows]
        print("\n".join(lines), file=self.out)


def make_display(*, quiet: bool) -> Display:
    """The rich display when ``rich`` is installed, else :class:`PlainDisplay`."""
    if has_rich():
        from bastion.cli._rich import RichDisplay

        return RichDisplay(quiet=quiet)
    return PlainDisplay(quiet=quiet)

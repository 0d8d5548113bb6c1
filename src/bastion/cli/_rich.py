"""The ``rich`` display of ``bastion demo`` (imported only when rich is installed)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bastion.cli._display import PlainDisplay, summary_rows
from bastion.demo import DemoSummary
from bastion.demo._pipeline import DemoProgress

__all__ = ["RichDisplay"]


class RichDisplay:
    """A live progress bar on a terminal (plain progress lines otherwise) and a table."""

    def __init__(self, *, quiet: bool) -> None:
        self.err = Console(stderr=True)
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.err,
            disable=quiet or not self.err.is_terminal,
            transient=False,
        )
        # In logs and pipes: one plain line a second instead of a bar.
        self.lines = PlainDisplay(quiet=quiet or self.err.is_terminal)
        self.task = self.bar.add_task("documents", total=None)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """The live bar is shown inside this context."""
        with self.bar:
            yield

    def progress(self, snapshot: DemoProgress) -> None:
        """Advance the bar (or print a plain line)."""
        self.lines.progress(snapshot)
        self.bar.update(
            self.task,
            total=snapshot.accepted,
            completed=snapshot.finished,
            description=f"documents  running {snapshot.running:>3}  restarts "
            f"{snapshot.restarts:>3}  retried {snapshot.retried:>3}",
        )

    def summary(self, summary: DemoSummary) -> None:
        """The closing table; a non-zero ``lost`` in bold red."""
        table = Table(title=f"bastion demo — {summary.db}", show_header=False)
        table.add_column("what")
        table.add_column("count", justify="right")
        for label, value in summary_rows(summary):
            style = "bold red" if label.startswith("lost") and value else None
            table.add_row(label, str(value), style=style)
        Console().print(table)

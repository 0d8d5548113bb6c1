"""What ``bastion loadtest`` shows: live progress on stderr, the summary table on stdout.

With ``rich`` (the ``cli`` extra) and a terminal: one live status line (elapsed, phase,
rate, errors, live p99) redrawn on each progress reading, no refresh thread, and rich
tables at the end. Otherwise plain lines: a progress line a second, aligned tables.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from bastion.cli._display import has_rich
from bastion.loadtest import LoadTestResult, Progress

__all__ = ["LoadDisplay", "progress_line", "summary_lines"]


def progress_line(p: Progress) -> str:
    """One line of progress, units included."""
    return (
        f"{p.elapsed:7.1f} s  {p.phase:<8}  {p.iterations:>10,} it  {p.rate:>10,.1f} it/s  "
        f"errors {p.failed:>8,}  p99 {p.p99_ms:>9.3f} ms  in flight {p.in_flight:>5}"
    )


def _rows(result: LoadTestResult) -> list[list[str]]:
    rows = []
    stats = list(result.scenarios) + ([result.overall] if len(result.scenarios) > 1 else [])
    for s in stats:
        lat = s.latency
        rows.append(
            [
                s.name,
                f"{s.iterations:,}",
                f"{s.failed:,}",
                f"{s.error_rate * 100:.2f} %",
                f"{s.throughput:,.1f}",
                *(f"{v:,.3f}" for v in (lat.p50_ms, lat.p90_ms, lat.p99_ms, lat.p99_9_ms)),
                f"{lat.max_ms:,.3f}",
            ]
        )
    return rows


HEADERS = ["scenario", "iterations", "failed", "errors", "rate/s", "p50 ms", "p90 ms",
           "p99 ms", "p99.9 ms", "max ms"]  # fmt: skip


def summary_lines(result: LoadTestResult) -> list[str]:
    """The plain-text summary: a title, the table, errors, thresholds, chaos, workers."""
    rows = [HEADERS, *_rows(result)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = [f"bastion loadtest — {result.model}, {result.duration:g} s recorded"]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  " + "  ".join(cells))
    for category, count in result.overall.errors_by_category.items():
        lines.append(f"  errors: {category}: {count:,}")
    for verdict in result.thresholds:
        mark = "pass" if verdict.passed else "FAIL"
        lines.append(f"  threshold {verdict.threshold.text}: {mark}")
    for key, value in result.chaos_summary.items():
        lines.append(f"  chaos {key}: {value}")
    for worker in result.workers:
        state = "reported" if worker.reported else f"LOST ({worker.detail})"
        lines.append(f"  worker {worker.worker}: {state}")
    return lines


class LoadDisplay:
    """Live progress (unless quiet) and the closing summary."""

    def __init__(self, *, quiet: bool, err: TextIO | None = None, out: TextIO | None = None):
        self.quiet = quiet
        self.err = err or sys.stderr
        self.out = out or sys.stdout
        self._next_line = 0.0
        self._console: object | None = None
        if not quiet and has_rich() and self.err.isatty():
            from rich.console import Console

            self._console = Console(stderr=True)

    def progress(self, reading: Progress) -> None:
        """Show one reading: redraw the live line, or print a line at most once a second."""
        if self.quiet:
            return
        if self._console is not None:
            from rich.console import Console

            assert isinstance(self._console, Console)
            self._console.print(progress_line(reading), end="\r", highlight=False)
            return
        if time.monotonic() >= self._next_line:
            self._next_line = time.monotonic() + 1.0
            print(f"progress: {progress_line(reading)}", file=self.err, flush=True)

    def summary(self, result: LoadTestResult) -> None:
        """The closing table (rich when available on a terminal)."""
        if self._console is not None and self.out.isatty():
            self._rich_summary(result)
            return
        print("\n".join(summary_lines(result)), file=self.out)

    def _rich_summary(self, result: LoadTestResult) -> None:
        from rich.console import Console
        from rich.table import Table

        self.err.write("\n")
        table = Table(title=f"bastion loadtest — {result.model}, {result.duration:g} s recorded")
        for i, header in enumerate(HEADERS):
            table.add_column(header, justify="left" if i == 0 else "right")
        for row in _rows(result):
            table.add_row(*row)
        console = Console()
        console.print(table)
        for line in summary_lines(result)[2 + len(_rows(result)) :]:
            style = "bold red" if "FAIL" in line or "LOST" in line else None
            console.print(line, style=style, highlight=False)

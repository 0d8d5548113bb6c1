"""``bastion demo``: run the document pipeline and print the closing summary."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bastion._core._runtime import Runtime, run
from bastion.demo import DemoConfig, DemoSummary, run_demo
from bastion.demo._pipeline import DemoProgress

__all__ = ["demo_command"]


@click.command("demo")
@click.option(
    "--tasks", default=200, show_default=True, help="Documents to run through the pipeline."
)
@click.option("--workers", default=4, show_default=True, help="TaskAgent workers in the pool.")
@click.option(
    "--chaos",
    default=0.05,
    show_default=True,
    help="Fault rate: chance a step attempt hits an outage; workers are killed at 10x per 100 ms.",
)
@click.option(
    "--io-ms", default=20.0, show_default=True, help="Mean simulated I/O time of one step."
)
@click.option("--seed", default=7, show_default=True, help="Seed for documents and faults.")
@click.option(
    "--db",
    default="bastion-demo.db",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file; run again with the same file to finish interrupted work.",
)
@click.option("--fresh", is_flag=True, help="Delete --db first and start from scratch.")
@click.option(
    "--timeout", default=600.0, show_default=True, help="Give up after this many seconds."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--verbose", is_flag=True, help="Log every crash with its traceback.")
def demo_command(
    tasks: int,
    workers: int,
    chaos: float,
    io_ms: float,
    seed: int,
    db: Path,
    fresh: bool,
    timeout: float,
    as_json: bool,
    verbose: bool,
) -> None:
    """Document pipeline (fetch → parse → enrich → index) on a supervision tree with chaos.

    Exits 0 when every accepted document is accounted for (completed or failed with a
    reason) and none is lost.
    """
    try:
        config = DemoConfig(
            tasks=tasks,
            workers=workers,
            chaos=chaos,
            seed=seed,
            db=db,
            io_seconds=io_ms / 1000,
            timeout=timeout,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if not verbose:  # injected crashes are the point of the demo: count them, don't print them
        logging.getLogger("bastion").setLevel(logging.CRITICAL)
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    err = Console(stderr=True)
    progress = _progress(err, quiet=as_json)
    plain_progress = not as_json and not err.is_terminal  # one line a second in logs and pipes
    next_line = [0.0]

    async def main(runtime: Runtime) -> DemoSummary:
        with progress:
            bar = progress.add_task("documents", total=config.tasks)

            def show(p: DemoProgress) -> None:
                if plain_progress and time.monotonic() >= next_line[0]:
                    next_line[0] = time.monotonic() + 1.0
                    err.print(
                        f"progress: {p.finished}/{p.accepted} finished, running {p.running}, "
                        f"restarts {p.restarts}, retried {p.retried}",
                        highlight=False,
                    )
                progress.update(
                    bar,
                    completed=p.finished,
                    description=f"documents  running {p.running:>3}  restarts {p.restarts:>3}"
                    f"  retried {p.retried:>3}",
                )

            return await run_demo(runtime, config, show)

    summary = run(main)
    if summary is None:
        err.print(f"[yellow]interrupted[/]: run again with --db {db} to finish the remaining work")
        sys.exit(130)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), sort_keys=True))
    else:
        Console().print(_table(summary))
    sys.exit(0 if summary.lost == 0 and summary.unfinished == 0 else 1)


def _progress(console: Console, *, quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
        transient=False,
    )


def _table(summary: DemoSummary) -> Table:
    table = Table(title=f"bastion demo — {summary.db}", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [
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
    for label, value in rows:
        style = "bold red" if label.startswith("lost") and value else None
        table.add_row(label, str(value), style=style)
    return table

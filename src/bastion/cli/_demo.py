"""``bastion demo``: run the document pipeline and print the closing summary.

Exit status (docs/cli.md): 0 every document accounted for; 1 the run ended with
unfinished work (``--timeout`` ran out) or a lost document; 2 usage error; 3 the demo
could not run (the ``--db`` file is not usable, the runtime failed); 130 interrupted.
Every error is one line on stderr, never a traceback (``--verbose`` adds it).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import click

from bastion import BastionError, current_runtime, run
from bastion.cli._display import make_display
from bastion.demo import DemoConfig, DemoSummary, run_demo
from bastion.persistence import StoreError, delete_store_file

__all__ = ["EXIT_ERROR", "EXIT_INCOMPLETE", "EXIT_INTERRUPTED", "demo_command"]

EXIT_INCOMPLETE = 1
EXIT_ERROR = 3
EXIT_INTERRUPTED = 130


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
@click.option(
    "--verbose", is_flag=True, help="Log every crash, and show the traceback of an error."
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus /metrics on 127.0.0.1:PORT while the demo runs (bastion[prometheus]).",
)
@click.option(
    "--rollout",
    type=click.Choice(["bad", "good"]),
    is_flag=False,
    flag_value="bad",
    default=None,
    help="Instead: roll a worse (or, =good, a sound) enrich step out behind a flag while "
    "chaos runs; the summary shows the automatic rollback (or promotion) and its evidence.",
)
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
    metrics_port: int | None,
    rollout: str | None,
) -> None:
    """Document pipeline (fetch → parse → enrich → index) on a supervision tree with chaos.

    Exits 0 when every accepted document is accounted for (completed or failed with a
    reason) and none is lost; 1 when work is left unfinished (timeout) or lost; 2 on a
    usage error; 3 when the demo cannot run (e.g. --db is not a usable database); 130
    when interrupted.
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
    if fresh:  # only a Bastion state database is deleted, never another file
        try:
            delete_store_file(db)
        except StoreError as exc:
            _fail(f"error: cannot use --db {db}: {exc}")
            sys.exit(EXIT_ERROR)
    if rollout is not None:
        from bastion.cli._demo_rollout import rollout_demo

        rollout_demo(config, good=rollout == "good", as_json=as_json, verbose=verbose)
        return
    display = make_display(quiet=as_json)

    async def main() -> DemoSummary:
        with display.running():
            runtime = current_runtime()
            if metrics_port is None:
                return await run_demo(runtime, config, display.progress)
            from bastion.telemetry.prometheus import serve_metrics

            async with serve_metrics(runtime, metrics_port) as server:
                click.echo(f"bastion demo: serving {server.url}", err=True)
                return await run_demo(runtime, config, display.progress)

    summary = _run_or_explain(main, db, verbose=verbose)
    if summary is None:
        _fail(f"interrupted: run again with --db {db} to finish the remaining work")
        sys.exit(EXIT_INTERRUPTED)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), sort_keys=True))
    else:
        display.summary(summary)
    if summary.lost:
        _fail(f"{summary.lost} document(s) lost: this is a bug in Bastion, please report it")
    if summary.timed_out:
        _fail(
            f"timed out after --timeout {timeout:g} s with {summary.unfinished} document(s) "
            f"unfinished: run again with --db {db} to finish them, or raise --timeout"
        )
    elif summary.unfinished:
        _fail(f"{summary.unfinished} document(s) unfinished (cancelled)")
    sys.exit(0 if summary.lost == 0 and summary.unfinished == 0 else EXIT_INCOMPLETE)


def _fail(message: str) -> None:
    click.echo(f"bastion demo: {message}", err=True)


def _run_or_explain(
    main: Callable[[], Awaitable[DemoSummary]], db: Path, *, verbose: bool
) -> DemoSummary | None:
    """``run(main)``; an expected failure becomes one line on stderr and exit status 3."""
    try:
        summary: DemoSummary | None = run(main)
    except StoreError as exc:
        if verbose:
            raise
        _fail(f"error: cannot use --db {db}: {exc}")
        sys.exit(EXIT_ERROR)
    except (BastionError, OSError) as exc:
        if verbose:
            raise
        _fail(f"error: {type(exc).__name__}: {exc}")
        sys.exit(EXIT_ERROR)
    return summary

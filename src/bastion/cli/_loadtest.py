"""``bastion loadtest``: run a scenario file's load test, show progress, judge thresholds.

Exit status (docs/cli.md): 0 the run passed; 1 a threshold failed, chaos lost accepted
work, or a worker process was lost; 2 usage error (bad option value, bad threshold,
missing scenario file or name); 3 the load test could not run (its setup failed, the
file does not import); 130 interrupted. Every error is one line on stderr.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

import click

from bastion import BastionError, run
from bastion.cli._loadtest_display import LoadDisplay
from bastion.loadtest import (
    ClosedModel,
    LoadTest,
    LoadTestError,
    LoadTestResult,
    OpenModel,
    ScenarioNotFound,
    parse_threshold,
)
from bastion.loadtest import run as run_load
from bastion.loadtest._loader import load_target
from bastion.loadtest._run import prepare_thresholds, validate_plan

__all__ = ["EXIT_ERROR", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_USAGE", "loadtest_command"]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ERROR = 3
EXIT_INTERRUPTED = 130


class _OneLineCommand(click.Command):
    """Usage errors are one line on stderr (exit 2), not click's usage block."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            _fail(exc.format_message(), EXIT_USAGE)


@click.command("loadtest", cls=_OneLineCommand)
@click.argument("target", required=False)
@click.option("--demo", is_flag=True, help="Load the demo pipeline (a TaskAgent pool on SQLite).")
@click.option("--users", type=int, help="Closed model: this many concurrent users.")
@click.option("--rate", type=float, help="Open model: iterations started per second.")
@click.option(
    "--think-time",
    type=float,
    default=0.0,
    help="Closed model: seconds between a user's iterations.",
)
@click.option(
    "--max-in-flight",
    type=int,
    default=1000,
    show_default=True,
    help="Open model: concurrent iterations at most.",
)
@click.option("--duration", type=float, help="Seconds of recorded load (default 10).")
@click.option("--iterations", type=int, help="Recorded iterations instead of a duration.")
@click.option("--ramp-up", type=float, default=0.0, help="Seconds to reach full load.")
@click.option("--warmup", type=float, default=0.0, help="Seconds of load before recording.")
@click.option(
    "--cooldown",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds to drain in-flight iterations.",
)
@click.option(
    "--timeout", type=float, default=5.0, show_default=True, help="Per-iteration timeout, seconds."
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    help="e.g. 'p99 < 50ms', 'error_rate < 1%' (repeatable).",
)
@click.option("--chaos", is_flag=True, help="Turn on the chaos the load test declares.")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
@click.option("--seed", type=int, default=None, help="Seed for scenario choice and chaos.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option(
    "--html", type=click.Path(dir_okay=False, path_type=Path), help="Write the HTML report here."
)
@click.option("--verbose", is_flag=True, help="Show the traceback of an error.")
def loadtest_command(
    target: str | None,
    demo: bool,
    users: int | None,
    rate: float | None,
    think_time: float,
    max_in_flight: int,
    duration: float | None,
    iterations: int | None,
    ramp_up: float,
    warmup: float,
    cooldown: float,
    timeout: float,
    thresholds: tuple[str, ...],
    chaos: bool,
    workers: int,
    seed: int | None,
    as_json: bool,
    html: Path | None,
    verbose: bool,
) -> None:
    """Load-test TARGET (path/to/scenarios.py[:name]) or, with --demo, the demo pipeline.

    Exits 0 when the run passed; 1 when a threshold failed, chaos lost accepted work or
    a worker process was lost; 2 on a usage error; 3 when the load test could not run;
    130 when interrupted.
    """
    if not verbose:
        logging.getLogger("bastion").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="bastion-loadtest-") as scratch:
        test = _target(target, demo, Path(scratch))
        load = _model(users, rate, think_time, max_in_flight, ramp_up)
        if duration is None and iterations is None:
            duration = 10.0
        options: dict[str, Any] = {
            "load": load,
            "duration": duration,
            "iterations": iterations,
            "warmup": warmup,
            "cooldown": cooldown,
            "timeout": timeout,
            "thresholds": list(thresholds),
            "chaos": _chaos(test, chaos),
            "seed": seed,
        }
        _check(test, options, workers)
        display = LoadDisplay(quiet=as_json)
        result = _execute(test, options, workers, target, demo, display, verbose=verbose)
    if result is None:
        _fail("interrupted: nothing is left running", EXIT_INTERRUPTED)
    if html is not None:
        try:
            result.write_html(html)
        except OSError as exc:
            _fail(f"cannot write --html {html}: {exc.strerror or exc}", EXIT_ERROR)
    if as_json:
        click.echo(result.to_json())
    else:
        display.summary(result)
    _verdict(result)


def _target(target: str | None, demo: bool, scratch: Path) -> LoadTest:
    if demo == (target is not None):
        _fail("give a scenario file (path/to/scenarios.py[:name]) or --demo", EXIT_USAGE)
    if demo:
        from bastion.loadtest._demo import demo_load_test

        return demo_load_test(scratch / "loadtest-demo.db")
    assert target is not None
    try:
        return load_target(target)
    except ScenarioNotFound as exc:
        _fail(str(exc), EXIT_USAGE)
    except LoadTestError as exc:
        _fail(str(exc), EXIT_ERROR)


def _model(
    users: int | None, rate: float | None, think: float, in_flight: int, ramp_up: float
) -> ClosedModel | OpenModel:
    try:
        if users is not None and rate is not None:
            raise ValueError("give --users (closed model) or --rate (open model), not both")
        if users is not None:
            return ClosedModel(users, think_time=think, ramp_up=ramp_up)
        if rate is not None:
            return OpenModel(rate, ramp_up=ramp_up, max_in_flight=in_flight)
        raise ValueError("give --users N (closed model) or --rate N per second (open model)")
    except (TypeError, ValueError) as exc:
        _fail(_option_names(str(exc)), EXIT_USAGE)


def _option_names(message: str) -> str:
    for word in ("users", "rate", "think_time", "ramp_up", "max_in_flight", "duration",
                 "iterations", "warmup", "cooldown", "timeout"):  # fmt: skip
        message = message.replace(f"{word} must", f"--{word.replace('_', '-')} must")
    return message


def _chaos(test: LoadTest, wanted: bool) -> Any:
    if not wanted:
        return None
    if test.chaos is None:
        _fail("--chaos: this load test declares no chaos (LoadTest(chaos=Chaos(...)))", EXIT_USAGE)
    return test.chaos


def _check(test: LoadTest, options: dict[str, Any], workers: int) -> None:
    try:
        validate_plan(
            options["load"],
            options["duration"],
            options["iterations"],
            options["warmup"],
            options["cooldown"],
            options["timeout"],
            0.5,
            3600.0,
        )
        for text in options["thresholds"]:
            parse_threshold(text)
        prepare_thresholds(options["thresholds"], test)
        if not 1 <= workers <= 256:
            raise ValueError(f"--workers must be within 1..256, got {workers}")
        if workers > 1 and options["chaos"] is not None:
            raise ValueError("--chaos runs in one process: drop --workers or --chaos")
    except (TypeError, ValueError) as exc:
        _fail(_option_names(str(exc)), EXIT_USAGE)


def _execute(
    test: LoadTest,
    options: dict[str, Any],
    workers: int,
    target: str | None,
    demo: bool,
    display: LoadDisplay,
    *,
    verbose: bool,
) -> LoadTestResult | None:
    try:
        if workers > 1:
            from bastion.loadtest._workers import run_workers

            return run_workers(
                target=target, demo=demo, workers=workers, options=options, test=test,
                on_progress=display.progress,
            )  # fmt: skip

        async def main() -> LoadTestResult:
            return await run_load(test, on_progress=display.progress, **options)

        return run(main)
    except (BastionError, OSError) as exc:
        if verbose:
            raise
        _fail(f"the load test could not run: {type(exc).__name__}: {exc}", EXIT_ERROR)


def _verdict(result: LoadTestResult) -> None:
    for verdict in result.thresholds:
        if not verdict.passed:
            metric = verdict.threshold.metric
            value = _shown(metric, verdict.value)
            click.echo(f"bastion loadtest: threshold failed: {verdict.threshold.text} "
                       f"({metric} = {value})", err=True)  # fmt: skip
    lost = result.chaos_summary.get("lost")
    if lost:
        click.echo(f"bastion loadtest: chaos: {lost} accepted item(s) lost", err=True)
    for worker in result.workers:
        if not worker.reported:
            click.echo(f"bastion loadtest: worker {worker.worker} lost: {worker.detail}", err=True)
    sys.exit(0 if result.passed else EXIT_FAILED)


def _shown(metric: str, value: float) -> str:
    if metric == "error_rate":
        return f"{value * 100:.2f} %"
    if metric in ("rate", "errors", "iterations"):
        return f"{value:g}"
    return f"{value * 1000:.3f} ms"


def _fail(message: str, status: int) -> NoReturn:
    prefix = "error: " if status in (EXIT_USAGE, EXIT_ERROR) else ""
    click.echo(f"bastion loadtest: {prefix}{message}", err=True)
    sys.exit(status)

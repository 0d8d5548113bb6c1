"""``bastion console`` (a demo node with the operator console) and ``bastion top``.

Exit status (docs/cli.md): ``bastion console``: 0 stopped with Ctrl-C/SIGTERM after
serving; 2 usage error (an invalid option, a non-loopback ``--host`` without a token);
3 the console cannot start (the port is taken, the runtime failed). ``bastion top``: 0
done (``--once``, or Ctrl-C); 2 usage error; 3 the console cannot be reached or refused
the token.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bastion import BastionError, Runtime, StartFailed, current_runtime, run

if TYPE_CHECKING:
    from bastion.demo import DemoSummary

__all__ = ["console_command", "demo_with_console", "serve_with_demo", "top_command"]

EXIT_ERROR = 3
TOKEN_ENV = "BASTION_CONSOLE_TOKEN"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or name (the console's default)."""
    return host in ("127.0.0.1", "localhost", "::1", "[::1]") or host.startswith("127.")


def _fail(command: str, message: str) -> None:
    click.echo(f"bastion {command}: {message}", err=True)


async def serve_with_demo(
    host: str, port: int, token: str | None, *, tasks: int, workers: int, chaos: float,
    db: Path, keep_serving: bool,
) -> None:  # fmt: skip
    """Serve the console, run the demo pipeline on the same runtime, then keep serving."""
    from bastion.console import serve
    from bastion.demo import DemoConfig, run_demo

    runtime = current_runtime()
    server = await serve(runtime, host=host, port=port, token=token)
    click.echo(f"bastion console: {server.url}", err=True)
    click.echo(f"bastion console: token {server.token}", err=True)
    config = DemoConfig(tasks=tasks, workers=workers, chaos=chaos, db=db, timeout=86_400.0)
    summary = await run_demo(runtime, config)
    click.echo(
        f"bastion console: the demo finished ({summary.completed} completed, "
        f"{summary.failed} failed, lost {summary.lost})",
        err=True,
    )
    if keep_serving:
        click.echo("bastion console: still serving; Ctrl-C to stop", err=True)
        await runtime.clock.sleep(365 * 86_400.0)  # until Ctrl-C/SIGTERM cancels it
    await server.stop()


@click.group("console", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port (0: a free one).")  # fmt: skip
@click.option("--token", default=None, help=f"Bearer token (default: ${TOKEN_ENV}, else random).")
@click.option("--tasks", default=2000, show_default=True, help="Documents the demo runs.")
@click.option("--workers", default=4, show_default=True, help="TaskAgent workers.")
@click.option("--chaos", default=0.05, show_default=True, help="Fault rate of the demo.")
@click.option("--verbose", is_flag=True, help="Log every crash of the demo.")
@click.pass_context
def console_command(
    ctx: click.Context, host: str, port: int, token: str | None, tasks: int, workers: int,
    chaos: float, verbose: bool,
) -> None:  # fmt: skip
    """Start a demo node (the document pipeline with chaos) with the operator console.

    Prints the console's URL and token on stderr and serves until Ctrl-C. Listening
    beyond 127.0.0.1 needs --token (or $BASTION_CONSOLE_TOKEN). `bastion console audit`
    reads the console's audit journal from a state store.
    """
    if ctx.invoked_subcommand is not None:
        return
    token = token or os.environ.get(TOKEN_ENV) or None
    if not is_loopback(host) and token is None:
        raise click.BadParameter(
            f"listening on {host} needs a token: pass --token or set ${TOKEN_ENV}",
            param_hint="--host",
        )
    if not verbose:
        logging.getLogger("bastion").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="bastion-console-") as folder:
        _run_console(
            host, port, token, tasks=tasks, workers=workers, chaos=chaos,
            db=Path(folder) / "demo.db",
        )  # fmt: skip


def _run_console(
    host: str, port: int, token: str | None, *, tasks: int, workers: int, chaos: float, db: Path
) -> None:
    from bastion.demo import DemoConfig

    try:
        DemoConfig(tasks=tasks, workers=workers, chaos=chaos, db=db)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    try:
        run(lambda: serve_with_demo(host, port, token, tasks=tasks, workers=workers,
                                    chaos=chaos, db=db, keep_serving=True))  # fmt: skip
    except ValueError as exc:  # a non-loopback host without a token
        _fail("console", f"error: {exc}")
        sys.exit(2)
    except StartFailed as exc:
        _fail("console", f"error: cannot serve on {host}:{port}: {exc.__cause__ or exc}")
        sys.exit(EXIT_ERROR)
    except (BastionError, OSError) as exc:
        _fail("console", f"error: {type(exc).__name__}: {exc}")
        sys.exit(EXIT_ERROR)


@click.command("top")
@click.option("--url", default="http://127.0.0.1:8765/", show_default=True,
              help="The console's URL.")  # fmt: skip
@click.option("--token", default=None, help=f"Bearer token (default: ${TOKEN_ENV}).")
@click.option("--interval", type=click.FloatRange(0.2, 60), default=2.0, show_default=True,
              help="Seconds between refreshes.")  # fmt: skip
@click.option("--lines", type=click.IntRange(1, 200), default=10, show_default=True,
              help="Busiest actors shown.")  # fmt: skip
@click.option("--once", is_flag=True, help="Print one frame and exit.")
def top_command(url: str, token: str | None, interval: float, lines: int, once: bool) -> None:
    """A live terminal view of a running node through its console API (like htop/etop).

    Busiest actors (messages per second), supervisors with restarts, health and the
    active rollout. Needs the console running (`bastion console`, or
    `bastion.console.serve(rt)` in your program).
    """
    from bastion.cli._top import ConsoleUnreachable, run_top

    token = token or os.environ.get(TOKEN_ENV) or None
    try:
        run_top(url, token, interval=interval, lines=lines, once=once)
    except ConsoleUnreachable as exc:
        _fail("top", f"error: {exc}")
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        sys.exit(0)


async def demo_with_console(
    runtime: Runtime,
    port: int,
    run_demo: Callable[[], Awaitable[DemoSummary]],
    finished: list[DemoSummary],
) -> DemoSummary:
    """``bastion demo --console``: serve the console, run the demo, keep serving until Ctrl-C.

    The summary goes into ``finished`` as soon as the run ends, so an interrupted wait
    still reports it.
    """
    from bastion.console import serve

    server = await serve(runtime, port=port)
    click.echo(f"bastion demo: console {server.url}", err=True)
    click.echo(f"bastion demo: console token {server.token}", err=True)
    summary = await run_demo()
    finished.append(summary)
    click.echo(
        "bastion demo: the run finished; the console keeps serving (Ctrl-C to stop)", err=True
    )
    await runtime.clock.sleep(365 * 86_400.0)  # until Ctrl-C/SIGTERM cancels it
    return summary

"""``bastion rollout preflight|start|status|why|pause|resume|promote|rollback|retry|history``.

With ``--url`` (``$BASTION_CONSOLE_URL``) and ``--token``, ``status``, ``why``,
``history`` and the actions go through a running node's console API: its own
orchestrator acts, and the console audits the request. Otherwise (and always for
``preflight`` and ``start``) the commands work on the SQLite state store file (``--db``
or ``$BASTION_DB``) the application's orchestrator persists to: each command restores
the rollout in a control-only orchestrator (it never reads counts), acts, journals with
``--actor`` (default: the login name) and ``--reason``, and sets the flag's exposure.

Exit status (docs/cli.md, "bastion rollout"): 0 done; 1 no such flag or no rollout of
it; 2 usage error; 3 the store cannot be used; 4 the flag is quarantined (corrupt);
5 preflight failed (``preflight``, ``start``); 6 the rollout's state refuses the action
(e.g. ``resume`` of a running rollout); 7 (``--url``) the console cannot be reached or
refused the token. Errors are one line on stderr.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

import bastion
from bastion.agents import act
from bastion.cli._flags import _login_name
from bastion.cli._remote import db_option, remote_or_db, token_option, url_option
from bastion.cli._rollout_output import RolloutOutput
from bastion.flags import Flags, FlagStoreCorrupt, UnknownFlag
from bastion.persistence import SQLiteStore, StoreError
from bastion.rollout import DEFAULT_PHASES, InvalidTransition, PreflightFailed, RolloutPlan
from bastion.rollout._orchestrator import RolloutOrchestrator, orchestrator_name
from bastion.rollout._preflight import PreflightContext, PreflightReport, run_preflight

__all__ = ["rollout_group"]

EXIT_NOT_FOUND, EXIT_USAGE, EXIT_STORE, EXIT_CORRUPT, EXIT_PREFLIGHT, EXIT_REFUSED = range(1, 7)
TIMEOUT = 30.0
T = TypeVar("T")


def _fail(message: str, status: int) -> NoReturn:
    click.echo(f"bastion rollout: error: {message}", err=True)
    sys.exit(status)


Work = Callable[[bastion.Runtime, Flags, SQLiteStore, bastion.ActorRef], Awaitable[T]]


def _run(db: Path, namespace: str, flag: str, work: Work[T], plan: RolloutPlan | None = None) -> T:
    """Open the store, the flags and a control-only orchestrator of ``flag``; run ``work``."""
    if not db.exists():
        _fail(f"no state database at --db {db} (set --db or $BASTION_DB)", EXIT_STORE)

    async def main() -> T:
        async with asyncio.timeout(TIMEOUT):
            async with await SQLiteStore.open(db, op_timeout=10.0) as store:
                flags = await Flags.open(store, namespace=namespace)
                async with bastion.open_runtime() as rt:
                    ref = await rt.spawn(
                        RolloutOrchestrator,
                        name=orchestrator_name(flag),
                        store=store,
                        flags=flags,
                        plan=plan,
                        ticking=False,
                    )
                    try:
                        return await work(rt, flags, store, ref)
                    finally:
                        await ref.stop()

    try:
        return asyncio.run(main())
    except UnknownFlag as exc:
        _fail(f"{exc.message} in --db {db} (`bastion flags list` shows them)", EXIT_NOT_FOUND)
    except FlagStoreCorrupt as exc:
        _fail(exc.message, EXIT_CORRUPT)
    except PreflightFailed as exc:
        status = EXIT_CORRUPT if "quarantined" in exc.message else EXIT_PREFLIGHT
        _fail(exc.message, status)
    except InvalidTransition as exc:
        _fail(exc.message, EXIT_REFUSED)
    except StoreError as exc:
        _fail(f"cannot use --db {db}: {exc}", EXIT_STORE)
    except TimeoutError:
        _fail(f"--db {db} did not answer within {TIMEOUT:g} s", EXIT_STORE)
    except (ValueError, TypeError, bastion.ValidationError) as exc:
        _fail(str(exc), EXIT_USAGE)


_db = click.option(
    "--db",
    required=True,
    envvar="BASTION_DB",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The SQLite state store file (default: $BASTION_DB).",
)
_namespace = click.option(
    "--namespace", default="flags", show_default=True, help="Store namespace of the flags."
)
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
_actor = click.option(
    "--actor", default=_login_name, show_default="login name", help="Who acts (journaled)."
)


def _plan_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--phases",
            default=",".join(f"{p:g}" for p in DEFAULT_PHASES),
            show_default=True,
            help="Canary percentages, increasing to 100.",
        ),
        click.option(
            "--alpha",
            type=float,
            default=0.01,
            show_default=True,
            help="False-rollback budget of the whole rollout.",
        ),
        click.option(
            "--min-dwell",
            type=float,
            default=300.0,
            show_default=True,
            help="Minimum seconds per phase.",
        ),
        click.option(
            "--min-canary-calls",
            type=int,
            default=400,
            show_default=True,
            help="Canary calls a phase needs before promotion.",
        ),
        click.option(
            "--error-slo",
            type=float,
            default=0.02,
            show_default=True,
            help="Canary error rate the absolute guard holds.",
        ),
        click.option(
            "--calls-per-second",
            type=float,
            default=None,
            help="Expected total traffic (for the projection, and --fit).",
        ),
        click.option("--fit", is_flag=True, help="Lengthen each phase's dwell to its traffic."),
        click.option(
            "--source",
            "sources",
            multiple=True,
            type=click.Path(exists=True),
            help="Source paths `bastion check` must find clean (repeatable).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _plan(flag: str, options: dict[str, Any]) -> RolloutPlan:
    try:
        phases = tuple(float(p) for p in str(options["phases"]).split(","))
        plan = RolloutPlan(
            flag=flag,
            phases=phases,
            alpha=options["alpha"],
            min_dwell=options["min_dwell"],
            min_canary_calls=options["min_canary_calls"],
            error_slo=options["error_slo"],
        )
        if options["fit"]:
            if options["calls_per_second"] is None:
                raise ValueError("--fit needs --calls-per-second")
            plan = plan.fitted_to(options["calls_per_second"])
    except ValueError as exc:
        _fail(str(exc), EXIT_USAGE)
    return plan


async def _preflight(
    flags: Flags, store: SQLiteStore, plan: RolloutPlan, options: dict[str, Any]
) -> PreflightReport:
    flags.get(plan.flag)  # an unknown (exit 1) or quarantined (exit 4) flag says so first
    context = PreflightContext(
        plan, flags, store, None, options["calls_per_second"], source_paths=options["sources"]
    )
    return await run_preflight(context)


@click.group("rollout")
def rollout_group() -> None:
    """Progressive rollout of a flag: preflight, start, watch, control, audit."""


@rollout_group.command("preflight")
@click.argument("flag")
@_db
@_namespace
@_json
@_plan_options
def preflight_command(flag: str, db: Path, namespace: str, as_json: bool, **options: Any) -> None:
    """The readiness report: N/M checks, each with the fix for a failure (exit 5)."""
    plan = _plan(flag, options)

    async def work(rt: Any, flags: Flags, store: SQLiteStore, ref: Any) -> PreflightReport:
        return await _preflight(flags, store, plan, options)

    report = _run(db, namespace, flag, work)
    RolloutOutput(as_json).report(report)
    if not report.ok:
        sys.exit(EXIT_PREFLIGHT)


@rollout_group.command("start")
@click.argument("flag")
@_db
@_namespace
@_json
@_actor
@click.option("--reason", default="", help="Why (journaled).")
@_plan_options
def start_command(
    flag: str, db: Path, namespace: str, as_json: bool, actor: str, reason: str, **options: Any
) -> None:
    """Run the preflight report, then start phase 1 (refused with exit 5 on a failure)."""
    plan = _plan(flag, options)
    out = RolloutOutput(as_json)

    async def work(rt: Any, flags: Flags, store: SQLiteStore, ref: Any) -> Any:
        report = await _preflight(flags, store, plan, options)
        if not report.ok:
            return report
        return await act(ref, "start", actor=actor, reason=reason, plan=plan, preflight=False)

    result = _run(db, namespace, flag, work, plan)
    if isinstance(result, PreflightReport):
        out.report(result)
        sys.exit(EXIT_PREFLIGHT)
    out.status(result)


def _started(status: Any, flag: str) -> Any:
    if status.status == "pending" and not status.flag:
        raise InvalidTransition(f"no rollout of {flag!r} in this store (bastion rollout start)")
    return status


def _remote(
    db: Path | None, url: str | None, token: str | None, as_json: bool, command: str, *args: Any
) -> Path | None:
    """Run ``command`` through the console API if ``--url`` is given (then None), else
    return the ``--db`` path to use."""
    if (url := remote_or_db(db, url)) is None:
        return db
    from bastion.cli._remote_commands import RolloutRemote

    getattr(RolloutRemote(url, token, as_json), command)(*args)
    return None


@rollout_group.command("status")
@click.argument("flag")
@db_option
@url_option
@token_option
@_namespace
@_json
def status_command(
    flag: str, db: Path | None, url: str | None, token: str | None, namespace: str, as_json: bool
) -> None:
    """Where the rollout is: status, phase, exposure, canary calls in the phase."""
    if (db := _remote(db, url, token, as_json, "status", flag)) is None:
        return

    async def work(rt: Any, flags: Flags, store: SQLiteStore, ref: Any) -> Any:
        return _started(await act(ref, "status"), flag)

    RolloutOutput(as_json).status(_run(db, namespace, flag, work))


@rollout_group.command("why")
@click.argument("flag")
@db_option
@url_option
@token_option
@_namespace
@_json
def why_command(
    flag: str, db: Path | None, url: str | None, token: str | None, namespace: str, as_json: bool
) -> None:
    """The last decision and every signal's evidence (statistic, threshold, alpha, counts)."""
    if (db := _remote(db, url, token, as_json, "why", flag)) is None:
        return

    async def work(rt: Any, flags: Flags, store: SQLiteStore, ref: Any) -> Any:
        _started(await act(ref, "status"), flag)
        entries = await act(ref, "entries")
        return (entries[-1] if entries else None), await act(ref, "evidence")

    entry, evidence = _run(db, namespace, flag, work)
    last = entry.evidence if entry is not None and entry.evidence else evidence
    RolloutOutput(as_json).why(entry, last)


@rollout_group.command("history")
@click.argument("flag")
@db_option
@url_option
@token_option
@_namespace
@_json
def history_command(
    flag: str, db: Path | None, url: str | None, token: str | None, namespace: str, as_json: bool
) -> None:
    """The rollout's journal: every decision and manual action, oldest first."""
    if (db := _remote(db, url, token, as_json, "history", flag)) is None:
        return

    async def work(rt: Any, flags: Flags, store: SQLiteStore, ref: Any) -> Any:
        _started(await act(ref, "status"), flag)
        return await act(ref, "entries")

    RolloutOutput(as_json).history(flag, _run(db, namespace, flag, work))


def _control(name: str, doc: str, *, force: bool = False, needs_reason: bool = False) -> None:
    @rollout_group.command(name, help=doc)
    @click.argument("flag")
    @db_option
    @url_option
    @token_option
    @_namespace
    @_json
    @_actor
    @click.option(
        "--reason",
        required=needs_reason,
        help="Why (journaled).",
        **({} if needs_reason else {"default": ""}),  # type: ignore[arg-type]
    )
    @click.option(
        "--force",
        is_flag=True,
        hidden=not force,
        help="Promote without the phase's evidence (needs --reason).",
    )
    def command(
        flag: str, db: Path | None, url: str | None, token: str | None, namespace: str,
        as_json: bool, actor: str, reason: str, force: bool,
    ) -> None:  # fmt: skip
        db = _remote(db, url, token, as_json, "act", flag, name, actor, reason, force)
        if db is None:
            return

        async def work(rt: Any, flags: Flags, store: SQLiteStore, ref: Any) -> Any:
            _started(await act(ref, "status"), flag)
            extra = {"force": True} if force else {}
            return await act(ref, name, actor=actor, reason=reason, **extra)

        RolloutOutput(as_json).status(_run(db, namespace, flag, work))


_control("pause", "Hold promotion; the tests keep watching and still roll back.")
_control("resume", "Let a paused rollout promote again.")
_control("promote", "Promote the current phase now (--force skips the evidence).", force=True)
_control(
    "rollback", "Emergency rollback to 0 % from any state, also after 100 %.", needs_reason=True
)
_control("retry", "A new attempt with fresh statistics after a rollback.")

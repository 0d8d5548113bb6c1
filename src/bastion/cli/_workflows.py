"""``bastion workflows list|get|steps|cancel|resume|retry``: durable workflows of a store.

The commands work on the SQLite state store file the application's engine uses
(``--db``, or ``$BASTION_DB``), finished workflows included; or, with ``--url``
(``$BASTION_CONSOLE_URL``) and ``--token``, on a running node through its console API,
whose own engine then acts (a resumed workflow runs there at once; with ``--db`` the
next engine opened on the file runs it). ``cancel`` through ``--db`` fences a run of
another process: its next write is rejected.

``resume`` runs a cancelled or failed workflow again from its recorded steps; ``retry``
runs a *failed* one again from its failed step, or, with ``--from-step N``, forks any
workflow into a new one that reuses the steps before ``N``.

Exit status (docs/cli.md, "bastion workflows"): 0 done; 1 no such workflow; 2 usage
error; 3 the store cannot be used; 4 the workflow's stored data is corrupt (it was
quarantined); 6 the workflow's state refuses the action (``resume`` of a completed one,
``retry`` of one that did not fail); 7 (``--url``) the console cannot be reached or
refused the token. Errors are one line on stderr.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from bastion.cli._flags import _login_name
from bastion.cli._remote import (
    RemoteConsole,
    RemoteFailure,
    db_option,
    remote_or_db,
    token_option,
    url_option,
)
from bastion.cli._workflows_output import WorkflowsOutput
from bastion.persistence import SQLiteStore, StoreError
from bastion.workflows import (
    CorruptWorkflow,
    UnknownWorkflow,
    WorkflowError,
    WorkflowFinished,
    WorkflowStore,
    inspect,
)
from bastion.workflows._inspect import info_json

__all__ = ["workflows_group"]

EXIT_NOT_FOUND, EXIT_USAGE, EXIT_STORE, EXIT_CORRUPT = 1, 2, 3, 4
EXIT_REFUSED = 6
TIMEOUT = 30.0
STATUSES = ("running", "completed", "failed", "cancelled")
_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
T = TypeVar("T")


def _fail(message: str, status: int) -> NoReturn:
    click.echo(f"bastion workflows: error: {message}", err=True)
    sys.exit(status)


def _run(db: Path, work: Callable[[WorkflowStore], Awaitable[T]]) -> T:
    """Open the store, run ``work`` on its workflows, map failures to exit statuses."""
    if not db.exists():
        _fail(f"no state database at --db {db} (set --db or $BASTION_DB)", EXIT_STORE)

    async def main() -> T:
        async with asyncio.timeout(TIMEOUT):
            async with await SQLiteStore.open(db, op_timeout=10.0) as store:
                return await work(inspect(store))

    try:
        return asyncio.run(main())
    except UnknownWorkflow as exc:
        _fail(f"{exc} in --db {db} (`bastion workflows list` shows them)", EXIT_NOT_FOUND)
    except CorruptWorkflow as exc:
        _fail(str(exc), EXIT_CORRUPT)
    except WorkflowFinished as exc:
        _fail(str(exc), EXIT_REFUSED)
    except StoreError as exc:
        _fail(f"cannot use --db {db}: {exc}", EXIT_STORE)
    except TimeoutError:
        _fail(f"--db {db} did not answer within {TIMEOUT:g} s", EXIT_STORE)
    except (ValueError, TypeError) as exc:
        _fail(str(exc), EXIT_USAGE)


def _age(value: str | None) -> float | None:
    """``90``, ``90s``, ``15m``, ``2h``, ``7d``, ``1w`` → seconds."""
    if value is None:
        return None
    match = _AGE.match(value.strip())
    if match is None or float(match.group(1)) <= 0:
        raise click.BadParameter(
            f"{value!r} is not an age such as 90s, 15m, 2h, 7d", param_hint="--since"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def _console(url: str, token: str | None) -> RemoteConsole:
    # 404 no such workflow (1); 400/422 bad input (2); 409 refused (6); 503 store (3)
    statuses = {404: 1, 400: 2, 413: 2, 415: 2, 422: 2, 409: EXIT_REFUSED, 503: 3}
    return RemoteConsole(url, token, statuses)


def _remote(url: str, token: str | None, request: Callable[[RemoteConsole], T]) -> T:
    try:
        return request(_console(url, token))
    except RemoteFailure as failure:
        status = EXIT_CORRUPT if failure.code == "corrupt_workflow" else failure.status
        if failure.code == "no_workflows":
            failure.message += " (serve the console with workflows=engine)"
        _fail(failure.message, status)


_json = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")


def _where(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed((db_option, url_option, token_option, _json)):
        fn = option(fn)
    return fn


@click.group("workflows")
def workflows_group() -> None:
    """Durable workflows in a store or a running node: list, read, cancel, resume, retry."""


@workflows_group.command("list")
@_where
@click.option("--status", type=click.Choice(STATUSES), help="Only workflows in this status.")
@click.option("--name", help="Only workflows of this name.")
@click.option("--since", help="Only workflows created within this age (90s, 15m, 2h, 7d).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
def list_command(
    db: Path | None,
    url: str | None,
    token: str | None,
    as_json: bool,
    status: str | None,
    name: str | None,
    since: str | None,
    limit: int,
) -> None:
    """Stored workflows, finished ones included, newest first."""
    age = _age(since)
    out = WorkflowsOutput(as_json)
    if (url := remote_or_db(db, url)) is not None:
        params = {"status": status, "name": name, "limit": limit}
        if age is not None:
            params["max_age"] = max(1, int(age))
        answer = _remote(url, token, lambda c: c.get("api/workflows", **params))
        if not answer.get("available"):
            _fail("the node's console was given no workflow engine", EXIT_NOT_FOUND)
        out.workflows(answer["total"], answer["items"])
        return
    assert db is not None
    after = None if age is None else time.time() - age

    async def work(workflows: WorkflowStore) -> list[Any]:
        return await workflows.list(status=status, name=name, created_after=after)

    found = _run(db, work)
    out.workflows(len(found), [info_json(w) for w in reversed(found)][:limit])


@workflows_group.command("get")
@click.argument("workflow_id")
@_where
def get_command(workflow_id: str, db: Path | None, url: str | None, token: str | None,
                as_json: bool) -> None:  # fmt: skip
    """One workflow: status, version, timestamps, result or error."""
    out = WorkflowsOutput(as_json)
    if (url := remote_or_db(db, url)) is not None:
        answer = _remote(url, token, lambda c: c.get(f"api/workflows/{workflow_id}", limit=1))
        out.workflow(answer["workflow"])
        return
    assert db is not None

    async def work(workflows: WorkflowStore) -> Any:
        return await workflows.get(workflow_id)

    out.workflow(info_json(_run(db, work)))


@workflows_group.command("steps")
@click.argument("workflow_id")
@_where
def steps_command(workflow_id: str, db: Path | None, url: str | None, token: str | None,
                  as_json: bool) -> None:  # fmt: skip
    """A workflow's recorded steps: kind, status, attempts, result or error."""
    out = WorkflowsOutput(as_json)
    if (url := remote_or_db(db, url)) is not None:
        path = f"api/workflows/{workflow_id}"
        answer = _remote(url, token, lambda c: c.get(path, limit=100_000))
        out.steps(workflow_id, answer["steps"])
        return
    assert db is not None

    async def work(workflows: WorkflowStore) -> list[Any]:
        await workflows.get(workflow_id)  # unknown: exit 1, not an empty table
        return await workflows.steps(workflow_id)

    out.steps(workflow_id, [info_json(s) for s in _run(db, work)])


def _act(
    action: str,
    workflow_id: str,
    where: tuple[Path | None, str | None, str | None],
    as_json: bool,
    who: tuple[str, str],
    fork: tuple[int | None, str | None] = (None, None),
) -> None:
    db, url, token = where
    actor, reason = who
    from_step, new_id = fork
    out = WorkflowsOutput(as_json)
    if (url := remote_or_db(db, url)) is not None:
        body: dict[str, Any] = {
            "why": reason or f"{action} from the command line",
            "operator": actor[:100] or "cli",
        }
        if from_step is not None:
            body.update(from_step=from_step, new_id=new_id)
        answer = _remote(
            url, token, lambda c: c.post(f"api/workflows/{workflow_id}/{action}", body)
        )
        out.workflow(answer["workflow"])
        return
    assert db is not None

    async def work(workflows: WorkflowStore) -> Any:
        if action == "cancel":
            return await workflows.cancel(workflow_id)
        if action == "resume" or from_step is None:
            info = await workflows.get(workflow_id)
            if action == "retry" and str(info.status) != "failed":
                raise WorkflowFinished(
                    f"workflow {workflow_id!r} is {info.status}, not failed: retry runs a failed "
                    "workflow again (resume continues a cancelled one; --from-step forks any)"
                )
            if str(info.status) == "running":
                return info  # a running one is left alone
            return await workflows.resume(workflow_id)
        target = new_id or f"{workflow_id}~retry-{from_step}-{secrets.token_hex(3)}"
        return await workflows.fork(workflow_id, from_step=from_step, new_id=target)

    try:
        out.workflow(info_json(_run(db, work)))
    except WorkflowError as exc:  # pragma: no cover - mapped in _run for the known ones
        _fail(str(exc), EXIT_REFUSED)


_actor = click.option(
    "--actor", default=_login_name, show_default="login name", help="Who acts (audited by --url)."
)
_reason = click.option("--reason", default="", help="Why (audited by the node with --url).")


@workflows_group.command("cancel")
@click.argument("workflow_id")
@_where
@_actor
@_reason
def cancel_command(workflow_id: str, db: Path | None, url: str | None, token: str | None,
                   as_json: bool, actor: str, reason: str) -> None:  # fmt: skip
    """Cancel a workflow: its running step is cancelled, a late result rejected."""
    _act("cancel", workflow_id, (db, url, token), as_json, (actor, reason))


@workflows_group.command("resume")
@click.argument("workflow_id")
@_where
@_actor
@_reason
def resume_command(workflow_id: str, db: Path | None, url: str | None, token: str | None,
                   as_json: bool, actor: str, reason: str) -> None:  # fmt: skip
    """Run a cancelled or failed workflow again from its recorded steps."""
    _act("resume", workflow_id, (db, url, token), as_json, (actor, reason))


@workflows_group.command("retry")
@click.argument("workflow_id")
@_where
@_actor
@_reason
@click.option("--from-step", type=click.IntRange(0), help="Fork a new workflow from this step.")
@click.option("--new-id", help="The forked workflow's id (default: <id>~retry-<step>-<random>).")
def retry_command(workflow_id: str, db: Path | None, url: str | None, token: str | None,
                  as_json: bool, actor: str, reason: str, from_step: int | None,
                  new_id: str | None) -> None:  # fmt: skip
    """Run a failed workflow again from its failed step (or fork any one --from-step N)."""
    if new_id is not None and from_step is None:
        raise click.UsageError("--new-id goes with --from-step (retry in place has the same id)")
    fork = (from_step, new_id)
    _act("retry", workflow_id, (db, url, token), as_json, (actor, reason), fork)

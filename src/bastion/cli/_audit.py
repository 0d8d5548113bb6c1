"""``bastion console audit``: the console's audit journal, read from the node's state store.

Exit status (docs/cli.md, "bastion console audit"): 0 printed; 2 usage error; 3 the
store cannot be used (no such file, not a state store); 4 an entry is corrupt (named in
the one-line error on stderr; nothing is changed).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from bastion.persistence import CorruptState, SQLiteStore, StoreError

if TYPE_CHECKING:
    from bastion.console import AuditEntry

__all__ = ["audit_command"]

EXIT_STORE, EXIT_CORRUPT = 3, 4
AUDIT_NAMESPACE = "console/audit"  # bastion.console's default (imported lazily: an extra)
TIMEOUT = 30.0


def _fail(message: str, status: int) -> NoReturn:
    click.echo(f"bastion console audit: error: {message}", err=True)
    sys.exit(status)


async def _read(db: Path, namespace: str, limit: int) -> list[AuditEntry]:
    from bastion.console._audit import read_audit

    async with asyncio.timeout(TIMEOUT):
        async with await SQLiteStore.open(db, op_timeout=10.0) as store:
            return await read_audit(store, namespace, limit)


def _line(entry: AuditEntry) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(entry.at))
    return (
        f"{entry.seq:>5}  {when}Z  {entry.who}  {entry.action} {entry.target}  "
        f"{entry.outcome}: {entry.detail}  why: {entry.why}"
    )


@click.command("audit")
@click.option("--db", required=True, envvar="BASTION_DB",
              type=click.Path(dir_okay=False, path_type=Path),
              help="The node's SQLite state store (default: $BASTION_DB).")  # fmt: skip
@click.option("--namespace", default=AUDIT_NAMESPACE, show_default=True,
              help="Store namespace of the journal.")  # fmt: skip
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True,
              help="Newest entries shown.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def audit_command(db: Path, namespace: str, limit: int, as_json: bool) -> None:
    """The console's control actions (who, when, what, why, outcome), newest first.

    Reads the journal the console persists in the node's state store
    (``serve(rt, store=...)``), also after the node has stopped.
    """
    if not db.exists():
        _fail(f"no state database at --db {db} (set --db or $BASTION_DB)", EXIT_STORE)
    try:
        entries = asyncio.run(_read(db, namespace, limit))
    except CorruptState as exc:
        _fail(f"--db {db}: {exc}", EXIT_CORRUPT)
    except StoreError as exc:
        _fail(f"cannot use --db {db}: {exc}", EXIT_STORE)
    except TimeoutError:
        _fail(f"--db {db} did not answer within {TIMEOUT:g} s", EXIT_STORE)
    if as_json:
        click.echo(json.dumps({"entries": [asdict(e) for e in entries]}, indent=2))
    elif not entries:
        click.echo(f"no audit entries in {namespace!r}")
    else:
        for entry in entries:
            click.echo(_line(entry))

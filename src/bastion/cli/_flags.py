"""``bastion flags list|get|set|history``: read and change flags in a SQLite state store.

The commands work on the store file directly (``--db``, or ``$BASTION_DB``), the same
one the application opens with ``Flags.open(SQLiteStore)``; a running process sees the
changes after ``flags.refresh()``. With ``--url`` (``$BASTION_CONSOLE_URL``) and
``--token`` they work on a running node through its console API instead
(:mod:`bastion.cli._remote`). Every change needs ``--reason`` and is journaled with
``--actor`` (default: the login name).

Exit status (docs/cli.md, "bastion flags"): 0 done; 1 no such flag (or ``--create`` of
one that exists); 2 usage error (bad option, percentage, variant, rule JSON); 3 the
store cannot be used (missing file, not a state database, damaged, a write failed or
kept conflicting; ``--url``: the node refused the change); 4 the flag's stored data is
corrupt and was quarantined (``list``: some flag is); 7 (``--url``) the console cannot
be reached or refused the token. Errors are one line on stderr.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from bastion.cli._flags_output import Output
from bastion.cli._remote import db_option, remote_or_db, token_option, url_option
from bastion.flags import (
    Flag,
    FlagChange,
    FlagConflict,
    FlagExists,
    Flags,
    FlagStoreCorrupt,
    Rule,
    UnknownFlag,
)
from bastion.persistence import SQLiteStore, StoreError

__all__ = [
    "EXIT_CORRUPT",
    "EXIT_NOT_FOUND",
    "EXIT_STORE",
    "EXIT_USAGE",
    "flags_group",
]

EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_STORE = 3
EXIT_CORRUPT = 4
TIMEOUT = 30.0

T = TypeVar("T")


def _fail(message: str, status: int) -> NoReturn:
    click.echo(f"bastion flags: error: {message}", err=True)
    sys.exit(status)


def _run(db: Path, namespace: str, work: Callable[[Flags], Awaitable[T]], *, create: bool) -> T:
    """Open the store and the service, run ``work``, map failures to exit statuses."""
    if not create and not db.exists():
        _fail(f"no state database at --db {db} (set --db or $BASTION_DB)", EXIT_STORE)

    async def main() -> T:
        async with asyncio.timeout(TIMEOUT):
            async with await SQLiteStore.open(db, op_timeout=10.0) as store:
                flags = await Flags.open(store, namespace=namespace)
                try:
                    return await work(flags)
                finally:
                    await flags.aclose()

    try:
        return asyncio.run(main())
    except UnknownFlag as exc:
        _fail(f"{exc.message} in --db {db} (`bastion flags list` shows them)", EXIT_NOT_FOUND)
    except FlagExists as exc:
        _fail(exc.message, EXIT_NOT_FOUND)
    except FlagStoreCorrupt as exc:
        _fail(f"{exc.message} (`bastion flags set --create ...` defines it anew)", EXIT_CORRUPT)
    except (StoreError, FlagConflict) as exc:
        _fail(f"cannot use --db {db}: {exc}", EXIT_STORE)
    except TimeoutError:
        _fail(f"--db {db} did not answer within {TIMEOUT:g} s", EXIT_STORE)
    except (ValueError, TypeError) as exc:
        _fail(str(exc), EXIT_USAGE)


_namespace = click.option(
    "--namespace", default="flags", show_default=True, help="Store namespace of the flags."
)
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.group("flags")
def flags_group() -> None:
    """Feature flags in a state store: list, get, set (audited), history."""


@flags_group.command("list")
@db_option
@url_option
@token_option
@_namespace
@_json
def list_command(
    db: Path | None, url: str | None, token: str | None, namespace: str, as_json: bool
) -> None:
    """Every flag with its state; quarantined (corrupt) flags too, then exit status 4."""
    if (db := _remote(db, url, token, as_json, "list")) is None:
        return

    async def work(flags: Flags) -> tuple[list[tuple[Flag, int]], list[Any]]:
        return [(f, flags.version(f.key)) for f in flags.list()], list(flags.quarantined())

    listed, quarantined = _run(db, namespace, work, create=False)
    Output(as_json).flag_list(listed, quarantined)
    if quarantined:
        sys.exit(EXIT_CORRUPT)


@flags_group.command("get")
@click.argument("key")
@db_option
@url_option
@token_option
@_namespace
@_json
def get_command(
    key: str, db: Path | None, url: str | None, token: str | None, namespace: str, as_json: bool
) -> None:
    """One flag's definition and version."""
    if (db := _remote(db, url, token, as_json, "get", key)) is None:
        return

    async def work(flags: Flags) -> tuple[Flag, int]:
        return flags.get(key), flags.version(key)

    flag, version = _run(db, namespace, work, create=False)
    Output(as_json).flag(flag, version)


@flags_group.command("history")
@click.argument("key")
@db_option
@url_option
@token_option
@_namespace
@_json
def history_command(
    key: str, db: Path | None, url: str | None, token: str | None, namespace: str, as_json: bool
) -> None:
    """One flag's change journal: who, when, why, what changed."""
    if (db := _remote(db, url, token, as_json, "history", key)) is None:
        return

    async def work(flags: Flags) -> tuple[FlagChange, ...]:
        return flags.history(key)

    Output(as_json).history(key, _run(db, namespace, work, create=False))


def _remote(
    db: Path | None, url: str | None, token: str | None, as_json: bool, command: str, *args: str
) -> Path | None:
    """Run ``command`` through the console API if ``--url`` is given (then None), else
    return the ``--db`` path to use."""
    if (url := remote_or_db(db, url)) is None:
        return db
    from bastion.cli._remote_commands import FlagsRemote

    getattr(FlagsRemote(url, token, as_json), command)(*args)
    return None


def _json_option(value: str | None, what: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc})", param_hint=what) from None


def _rules(raw: Any) -> tuple[Rule, ...]:
    if not isinstance(raw, list):
        raise ValueError('--rules must be a JSON list such as [{"variant": "on", "keys": ["u1"]}]')
    rules = []
    for item in raw:
        if not isinstance(item, dict) or set(item) - {
            "variant",
            "keys",
            "attribute",
            "values",
            "negate",
        }:
            raise ValueError(
                f"--rules: {item!r} is not a rule (variant, keys | attribute, values, negate)"
            )
        rules.append(Rule(**item))
    return tuple(rules)


def _changes(**options: Any) -> dict[str, Any]:
    changes = {k: v for k, v in options.items() if v is not None}
    if "rules" in changes:
        changes["rules"] = _rules(changes["rules"])
    return changes


@flags_group.command("set")
@click.argument("key")
@db_option
@url_option
@token_option
@_namespace
@click.option("--percentage", type=float, help="Serve the canary variant to this % (0..100).")
@click.option("--enable/--disable", "enabled", default=None, help="--disable is the kill switch.")
@click.option("--default", "default", help="The default (baseline) variant.")
@click.option("--canary", help="The variant --percentage serves.")
@click.option("--variants", help='Variants as a JSON object, e.g. \'{"off": false, "on": true}\'.')
@click.option("--rules", help='Targeting rules as JSON: [{"variant": "on", "keys": ["u1"]}, ...].')
@click.option("--split", help='Weights of the remaining keys as JSON, e.g. \'{"a": 80, "b": 20}\'.')
@click.option("--salt", help="Bucketing salt (flags with one salt share their canary keys).")
@click.option("--description", help="What the flag is for.")
@click.option("--create", is_flag=True, help="Define the flag (boolean unless --variants).")
@click.option("--actor", default=None, help="Who makes the change (default: login name).")
@click.option("--reason", required=True, help="Why: recorded in the journal.")
@_json
def set_command(
    key: str,
    db: Path | None,
    url: str | None,
    token: str | None,
    namespace: str,
    percentage: float | None,
    enabled: bool | None,
    default: str | None,
    canary: str | None,
    variants: str | None,
    rules: str | None,
    split: str | None,
    salt: str | None,
    description: str | None,
    create: bool,
    actor: str | None,
    reason: str,
    as_json: bool,
) -> None:
    """Change a flag (or --create it); the change is journaled with --actor and --reason."""
    try:
        changes = _changes(
            percentage=percentage,
            enabled=enabled,
            default=default,
            canary=canary,
            variants=_json_option(variants, "--variants"),
            rules=_json_option(rules, "--rules"),
            split=_json_option(split, "--split"),
            salt=salt,
            description=description,
        )
    except (ValueError, TypeError) as exc:
        _fail(str(exc), EXIT_USAGE)
    who = actor or _login_name()
    if not create and not changes:
        raise click.UsageError("nothing to change: give --percentage, --disable, --rules, ...")
    if (url := remote_or_db(db, url)) is not None:
        if create:
            raise click.UsageError("--create needs --db (the console API does not define flags)")
        from bastion.cli._remote_commands import FlagsRemote

        FlagsRemote(url, token, as_json).set(key, changes, who, reason)
        return
    assert db is not None

    async def work(flags: Flags) -> FlagChange:
        if create:
            return await flags.define(_new_flag(key, changes), actor=who, reason=reason)
        if set(changes) == {"percentage"}:
            return await flags.set_percentage(key, changes["percentage"], actor=who, reason=reason)
        if changes == {"enabled": False}:
            return await flags.kill(key, actor=who, reason=reason)
        return await flags.set(key, actor=who, reason=reason, **changes)

    Output(as_json).change(_run(db, namespace, work, create=create))


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment nor the user database
        return "unknown"


def _new_flag(key: str, changes: dict[str, Any]) -> Flag:
    if "variants" not in changes:
        base = Flag.boolean(key)
        return base.replace(**changes) if changes else base
    if "default" not in changes:
        raise ValueError("--create with --variants needs --default")
    return Flag(key, **changes)

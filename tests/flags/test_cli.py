"""``bastion flags``: JSON and tables, audited changes, one-line errors, exit statuses."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bastion.cli import _table
from bastion.cli._flags import EXIT_CORRUPT, EXIT_NOT_FOUND, EXIT_STORE, EXIT_USAGE
from bastion.cli._main import cli, main
from bastion.flags import Flag, FlagChange, Flags
from bastion.persistence import Put, SQLiteStore

pytestmark = pytest.mark.usefixtures("registered")


@pytest.fixture
def registered() -> None:
    from bastion.cli._main import _register_flags

    _register_flags()


def run(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["flags", *args, "--db", str(db)])


def run_json(db: Path, *args: str) -> Any:
    result = run(db, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "flags.db"
    created = run(path, "set", "np", "--create", "--reason", "new parser", "--actor", "ana")
    assert created.exit_code == 0, created.output
    return path


def test_set_changes_are_journaled_and_shown_by_get_and_history(db: Path) -> None:
    change = run_json(db, "set", "np", "--percentage", "5", "--reason", "canary", "--actor", "ana")
    assert (change["action"], change["seq"], change["after"]["percentage"]) == (
        "set_percentage",
        2,
        5.0,
    )
    rules = '[{"variant": "on", "keys": ["alice"]}]'
    run_json(db, "set", "np", "--rules", rules, "--reason", "vip")
    killed = run_json(db, "set", "np", "--disable", "--reason", "incident", "--actor", "oncall")
    assert killed["action"] == "kill"
    flag = run_json(db, "get", "np")
    assert (flag["enabled"], flag["percentage"], flag["version"]) == (False, 5.0, 4)
    assert flag["rules"] == [{"variant": "on", "keys": ["alice"]}]
    history = run_json(db, "history", "np")
    assert [(c["seq"], c["action"], c["actor"], c["reason"]) for c in history["changes"]] == [
        (1, "define", "ana", "new parser"),
        (2, "set_percentage", "ana", "canary"),
        (3, "set", history["changes"][2]["actor"], "vip"),
        (4, "kill", "oncall", "incident"),
    ]
    listed = run_json(db, "list")
    assert [(f["key"], f["version"]) for f in listed["flags"]] == [("np", 4)]
    assert listed["quarantined"] == []


def test_create_a_multi_variant_flag(db: Path) -> None:
    variants = '{"bm25": "bm25", "dense": "dense"}'
    args = ["set", "ranker", "--create", "--variants", variants, "--default", "bm25"]
    created = run_json(db, *args, "--canary", "dense", "--reason", "r")
    assert created["after"]["variants"] == {"bm25": "bm25", "dense": "dense"}
    result = run(db, "set", "other", "--create", "--variants", variants, "--reason", "r")
    assert result.exit_code == EXIT_USAGE
    assert "needs --default" in result.output


def test_tables_without_rich_are_aligned_plain_text(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_table, "has_rich", lambda: False)
    listed = run(db, "list")
    assert listed.exit_code == 0
    assert listed.output.splitlines()[1].split() == [
        "flag",
        "serving",
        "default",
        "rules",
        "version",
        "description",
    ]
    assert listed.output.splitlines()[2].split() == ["np", "0%", "on", "off", "0", "1"]
    history = run(db, "history", "np")
    assert "new parser" in history.output
    assert "define" in history.output


def test_tables_with_rich(db: Path) -> None:
    pytest.importorskip("rich")
    result = run(db, "get", "np")
    assert result.exit_code == 0
    assert "flag np" in result.output
    assert "variants" in result.output


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["get", "nope"], EXIT_NOT_FOUND, "no flag 'nope' is defined"),
        (["history", "nope"], EXIT_NOT_FOUND, "no flag 'nope'"),
        (["set", "nope", "--percentage", "5", "--reason", "r"], EXIT_NOT_FOUND, "no flag"),
        (["set", "np", "--create", "--reason", "r"], EXIT_NOT_FOUND, "defined already"),
        (["set", "np", "--percentage", "120", "--reason", "r"], EXIT_USAGE, "0..100"),
        (["set", "np", "--default", "maybe", "--reason", "r"], EXIT_USAGE, "not a variant"),
        (["set", "np", "--rules", "[1]", "--reason", "r"], EXIT_USAGE, "is not a rule"),
        (["set", "np", "--rules", '{"a": 1}', "--reason", "r"], EXIT_USAGE, "JSON list"),
        (["set", "np", "--rules", "[{", "--reason", "r"], EXIT_USAGE, "not valid JSON"),
        (
            ["set", "np", "--rules", '[{"variant": "on"}]', "--reason", "r"],
            EXIT_USAGE,
            "needs keys",
        ),
        (["set", "np", "--reason", "r"], EXIT_USAGE, "nothing to change"),
        (["set", "np", "--percentage", "5"], EXIT_USAGE, "--reason"),
        (["get", "bad key"], EXIT_USAGE, "flag key"),
    ],
)
def test_errors_are_one_line_with_a_documented_status(
    db: Path, args: list[str], status: int, message: str
) -> None:
    result = run(db, *args)
    assert result.exit_code == status, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(run_json(db, "history", "np")["changes"]) == 1  # nothing was written


def test_a_missing_or_foreign_database_is_exit_3(tmp_path: Path) -> None:
    missing = run(tmp_path / "none.db", "list")
    assert missing.exit_code == EXIT_STORE
    assert "no state database" in missing.output
    assert not (tmp_path / "none.db").exists()
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a database\n")
    result = run(foreign, "list")
    assert result.exit_code == EXIT_STORE
    assert "cannot use --db" in result.output
    assert foreign.read_text() == "not a database\n"


def _corrupt(path: Path) -> None:
    async def main() -> None:
        async with await SQLiteStore.open(path) as store:
            await store.write([Put("flags/np", "flag", b"{garbage", expected_version=1)])

    asyncio.run(main())


def test_a_quarantined_flag_is_exit_4_and_listed(tmp_path: Path) -> None:
    path = tmp_path / "flags.db"
    assert run(path, "set", "np", "--create", "--reason", "r").exit_code == 0
    _corrupt(path)
    result = run(path, "get", "np")
    assert result.exit_code == EXIT_CORRUPT
    assert "quarantined" in result.output
    listed = run(path, "list", "--json")
    assert listed.exit_code == EXIT_CORRUPT
    assert [q["key"] for q in json.loads(listed.output)["quarantined"]] == ["np"]
    again = run(path, "set", "np", "--create", "--reason", "restored")
    assert again.exit_code == 0
    assert run(path, "list").exit_code == 0


def test_the_group_is_registered_by_main(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["bastion", "flags", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 0


async def test_a_running_service_sees_cli_changes_after_refresh(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    async with await SQLiteStore.open(path, op_timeout=10.0) as store:
        flags = await Flags.open(store)
        await flags.define(Flag.boolean("np"), actor="app", reason="declared")
        heard: list[FlagChange] = []
        flags.subscribe(heard.append)
        args = ["set", "np", "--percentage", "100", "--reason", "canary", "--actor", "ops"]
        result = await asyncio.to_thread(run, path, *args)  # the CLI, on the same file
        assert result.exit_code == 0, result.output
        assert flags.evaluate("np", "user-1").value is False  # not yet refreshed
        await flags.refresh()
        assert flags.evaluate("np", "user-1").value is True
        assert [(c.seq, c.actor, c.reason) for c in heard] == [(2, "ops", "canary")]
        await flags.aclose()


def test_split_and_salt(db: Path) -> None:
    variants = '{"a": 1, "b": 2}'
    run_json(db, "set", "ab", "--create", "--variants", variants, "--default", "a", "--reason", "r")
    change = run_json(
        db, "set", "ab", "--split", '{"a": 80, "b": 20}', "--salt", "grp", "--reason", "r"
    )
    assert change["after"]["split"] == {"a": 80.0, "b": 20.0}
    assert change["after"]["salt"] == "grp"
    bad = run(db, "set", "ab", "--split", '{"a": 50}', "--reason", "r")
    assert bad.exit_code == EXIT_USAGE
    assert "sum to 100" in bad.output

"""``bastion workflows`` over a store file: tables and JSON, filters, the actions, and
one-line errors with their documented exit statuses."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import bastion
from bastion.cli._main import cli
from bastion.cli._workflows import EXIT_CORRUPT, EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_STORE
from bastion.persistence import Put, SQLiteStore
from bastion.workflows import open_workflows
from tests.console._node_workflows import start_samples

pytestmark = pytest.mark.usefixtures("registered")


@pytest.fixture
def registered() -> None:
    from bastion.cli._main import _register_workflows

    _register_workflows()


async def _fill(path: Path) -> None:
    async with await SQLiteStore.open(path) as store, bastion.open_runtime() as rt:
        engine = await open_workflows(rt, store=store)
        await start_samples(engine)
        await engine.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "wf.db"
    asyncio.run(_fill(path))
    return path


def run(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["workflows", *args, "--db", str(db)])


def run_json(db: Path, *args: str) -> Any:
    result = run(db, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_list_shows_finished_workflows_newest_first_and_filters(db: Path) -> None:
    listed = run_json(db, "list")
    assert listed["total"] == 3
    assert [w["id"] for w in listed["workflows"]] == ["waiting", "failed", "done"]
    assert [w["status"] for w in listed["workflows"]] == ["running", "failed", "completed"]
    assert [w["id"] for w in run_json(db, "list", "--status", "failed")["workflows"]] == ["failed"]
    assert [w["id"] for w in run_json(db, "list", "--name", "node.fetch")["workflows"]] == ["done"]
    assert run_json(db, "list", "--since", "1h")["total"] == 3
    assert [w["id"] for w in run_json(db, "list", "--limit", "1")["workflows"]] == ["waiting"]
    table = run(db, "list")
    assert table.exit_code == 0
    assert "1 of 3" not in table.output
    assert "waiting" in table.output
    assert "completed" in table.output


def test_list_by_age(db: Path) -> None:
    async def age_done_by_two_hours() -> None:
        async with await SQLiteStore.open(db) as store:
            record = await store.read("workflow/done", "meta")
            assert record is not None
            meta = json.loads(record.data)
            meta["created_at"] -= 7200
            await store.write([Put("workflow/done", "meta", json.dumps(meta).encode())])

    asyncio.run(age_done_by_two_hours())
    assert [w["id"] for w in run_json(db, "list", "--since", "1h")["workflows"]] == [
        "waiting",
        "failed",
    ]
    assert run_json(db, "list", "--since", "3h")["total"] == 3


def test_get_and_steps(db: Path) -> None:
    done = run_json(db, "get", "done")
    assert (done["status"], done["result"], done["name"]) == (
        "completed",
        "value of a",
        "node.fetch",
    )
    failed = run_json(db, "get", "failed")
    assert failed["error"].startswith("StepFailed")
    steps = run_json(db, "steps", "failed")["steps"]
    assert [(s["step_no"], s["name"], s["status"]) for s in steps] == [
        (0, "lookup", "completed"),
        (1, "refuse", "failed"),
    ]
    assert (steps[1]["error"], steps[1]["error_type"]) == ("no b", "Refused")
    text = run(db, "steps", "failed")
    assert text.exit_code == 0
    assert "refuse" in text.output
    assert "no b" in text.output
    assert "value of a" in run(db, "get", "done").output


def test_cancel_resume_and_retry(db: Path) -> None:
    assert run_json(db, "cancel", "waiting", "--reason", "not needed")["status"] == "cancelled"
    assert run_json(db, "resume", "waiting")["status"] == "running"
    retried = run_json(db, "retry", "failed")
    assert retried["status"] == "running"
    steps = run_json(db, "steps", "failed")["steps"]
    assert [s["name"] for s in steps] == ["lookup"]  # the failed step runs again
    forked = run_json(db, "retry", "done", "--from-step", "0", "--new-id", "done-again")
    assert (forked["id"], forked["status"], forked["forked_from"]) == (
        "done-again",
        "running",
        "done",
    )
    assert run_json(db, "resume", "done-again")["status"] == "running"  # left alone


def _one_line(result: Result) -> str:
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize(
    ("args", "status", "says"),
    [
        (("get", "nope"), EXIT_NOT_FOUND, "no workflow 'nope'"),
        (("steps", "nope"), EXIT_NOT_FOUND, "no workflow 'nope'"),
        (("cancel", "nope"), EXIT_NOT_FOUND, "no workflow 'nope'"),
        (("retry", "done"), EXIT_REFUSED, "is completed, not failed"),
        (("resume", "done"), EXIT_REFUSED, "completed"),
    ],
)
def test_errors_are_one_line_with_their_status(
    db: Path, args: tuple[str, ...], status: int, says: str
) -> None:
    result = run(db, *args)
    assert result.exit_code == status, result.output
    assert says in _one_line(result)
    assert _one_line(result).startswith("bastion workflows: error: ")


def test_usage_errors(db: Path, tmp_path: Path) -> None:
    assert run(db, "list", "--since", "soon").exit_code == 2
    assert run(db, "list", "--status", "lost").exit_code == 2
    assert run(db, "retry", "failed", "--new-id", "x").exit_code == 2
    both = CliRunner().invoke(cli, ["workflows", "list", "--db", str(db), "--url", "http://x"])
    assert both.exit_code == 2
    missing = run(tmp_path / "missing.db", "list")
    assert missing.exit_code == EXIT_STORE
    assert "no state database" in _one_line(missing)


def test_a_corrupt_workflow_is_quarantined_and_says_so(db: Path) -> None:
    async def damage() -> None:
        async with await SQLiteStore.open(db) as store:
            await store.write([Put("workflow/done", "meta", b"{not json")])

    asyncio.run(damage())
    result = run(db, "get", "done")
    assert result.exit_code == EXIT_CORRUPT
    assert "quarantined" in _one_line(result)
    assert run_json(db, "list")["total"] == 2

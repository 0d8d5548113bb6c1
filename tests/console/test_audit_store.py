"""The console's audit journal persisted in the node's state store, and read by the CLI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import bastion
from bastion.cli._main import _register_console, cli
from bastion.console import AuditJournal, console_app
from bastion.persistence import MemoryStore, PutItem, SQLiteStore
from tests.console._nodes import client, start_tree

RESTART = "/api/supervisors/pool/children/w1/restart"


async def test_control_actions_are_journaled_in_the_store_and_survive_a_restart(
    rt: bastion.Runtime,
) -> None:
    store = MemoryStore()
    tree = await start_tree(rt)
    first = console_app(rt, store=store)
    async with client(first, first.token) as http:
        answer = await http.post(RESTART, json={"why": "stuck", "operator": "ada"})
    assert answer.status_code == 200
    again = console_app(rt, store=store)  # the node restarted: a fresh journal, same store
    assert len(again.journal) == 0
    async with client(again, again.token) as http:
        before = (await http.get("/api/audit")).json()["entries"]
        await http.post(RESTART, json={"why": "still stuck", "operator": "bob"})
        after = (await http.get("/api/audit")).json()["entries"]
    assert before == [answer.json()["audit"]]
    assert [(e["seq"], e["who"], e["why"]) for e in after] == [
        (2, "bob@127.0.0.1", "still stuck"),
        (1, "ada@127.0.0.1", "stuck"),
    ]
    await tree.stop()


async def test_two_journals_on_one_store_never_share_a_sequence_number() -> None:
    store = MemoryStore()
    a, b = AuditJournal(store=store), AuditJournal(store=store)
    fields = {"action": "x", "target": "t", "why": "w", "outcome": "ok", "detail": ""}
    for i in range(3):
        await a.append(who=f"a{i}", **fields)
        await b.append(who=f"b{i}", **fields)
    entries = await a.read(limit=10)
    assert [e.seq for e in entries] == [6, 5, 4, 3, 2, 1]
    assert [e.who for e in entries] == ["b2", "a2", "b1", "a1", "b0", "a0"]


@pytest.fixture
def registered() -> None:
    _register_console()


def journal_in(db: Path, entries: int, *, corrupt: bool = False) -> None:
    """Write ``entries`` audit entries into the SQLite store ``db`` (the first one damaged)."""

    async def write() -> None:
        async with await SQLiteStore.open(db, op_timeout=10.0) as store:
            journal = AuditJournal(store=store)
            for n in range(entries):
                await journal.append(who=f"op{n}@127.0.0.1", action="rollout.pause",
                                     target="np", why=f"reason {n}", outcome="ok",
                                     detail="now paused")  # fmt: skip
            if corrupt:
                await store.write([PutItem("console/audit", "entries", f"{1:012d}", b"{no")])

    asyncio.run(write())


@pytest.mark.usefixtures("registered")
def test_bastion_console_audit_reads_the_journal_from_the_db(tmp_path: Path) -> None:
    db = tmp_path / "node.db"
    journal_in(db, 3)
    runner = CliRunner()
    shown = runner.invoke(cli, ["console", "audit", "--db", str(db), "--json", "--limit", "2"])
    assert shown.exit_code == 0, shown.output
    entries = json.loads(shown.output)["entries"]
    assert [(e["seq"], e["who"], e["why"]) for e in entries] == [
        (3, "op2@127.0.0.1", "reason 2"),
        (2, "op1@127.0.0.1", "reason 1"),
    ]
    text = runner.invoke(cli, ["console", "audit", "--db", str(db)])
    assert text.exit_code == 0
    assert "rollout.pause np" in text.output
    assert "why: reason 0" in text.output


@pytest.mark.usefixtures("registered")
def test_bastion_console_audit_errors_are_one_line_with_their_exit_status(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["console", "audit", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 3
    assert missing.output.count("\n") == 1
    assert "no state database" in missing.output
    db = tmp_path / "node.db"
    journal_in(db, 1, corrupt=True)
    corrupt = runner.invoke(cli, ["console", "audit", "--db", str(db)])
    assert corrupt.exit_code == 4
    assert "audit entry 1" in corrupt.output
    assert corrupt.output.count("\n") == 1

"""``bastion demo --fresh`` deletes a Bastion state database only (issue 18 item 7)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from bastion.cli._demo import EXIT_ERROR, demo_command


def test_fresh_refuses_to_delete_a_file_that_is_not_a_state_database(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    result = CliRunner().invoke(demo_command, ["--fresh", "--db", str(notes), "--tasks", "1"])
    assert result.exit_code == EXIT_ERROR  # one line on stderr, before anything runs
    assert "not a Bastion state database" in result.output
    assert notes.read_text() == "my notes\n"


def test_fresh_refuses_another_applications_sqlite_file(tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    conn = sqlite3.connect(other)
    with conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    before = other.read_bytes()
    result = CliRunner().invoke(demo_command, ["--fresh", "--db", str(other), "--tasks", "1"])
    assert result.exit_code == EXIT_ERROR
    assert other.read_bytes() == before

"""Files that are not ours are never written to or deleted; damaged ones are reported
(issue 18 items 5 and 7); the package imports without POSIX-only modules (issue 13.10)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bastion.persistence import (
    DamagedStore,
    NotAStateStore,
    Put,
    SQLiteStore,
    StoreOpenError,
    delete_store_file,
)
from bastion.persistence import _sqlite_schema as schema
from bastion.persistence._sqlite import WriterKind

WRITERS = pytest.mark.parametrize("writer", ["loop", "thread", "process"])


@WRITERS
@pytest.mark.parametrize("path", [":memory:", ""])
async def test_an_in_memory_path_is_refused_naming_the_alternative(
    path: str, writer: WriterKind
) -> None:
    with pytest.raises(ValueError, match="MemoryStore"):
        await SQLiteStore.open(path, writer=writer)


def _foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        conn.execute("INSERT INTO notes (text) VALUES ('buy milk')")
    conn.close()


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


@WRITERS
@pytest.mark.parametrize("content", ["text", "random", "foreign sqlite", "foreign app id"])
async def test_a_file_that_is_not_ours_is_refused_and_left_untouched(
    tmp_path: Path, writer: WriterKind, content: str
) -> None:
    path = tmp_path / "notes.txt"
    if content == "text":
        path.write_text("my notes\n" * 50)
    elif content == "random":
        path.write_bytes(bytes(range(256)) * 16)
    elif content == "foreign sqlite":
        _foreign_sqlite(path)
    else:
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA application_id=1234")
        conn.close()
    before = path.read_bytes()
    with pytest.raises(NotAStateStore) as refused:
        await SQLiteStore.open(path, writer=writer)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert "not a Bastion state database" in message
    assert path.read_bytes() == before
    assert not (tmp_path / "notes.txt-wal").exists()


async def test_a_missing_directory_is_a_one_line_store_error(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "x.db"
    with pytest.raises(StoreOpenError, match=r"the directory .*missing does not exist"):
        await SQLiteStore.open(path)
    with pytest.raises(StoreOpenError, match="is a directory"):
        await SQLiteStore.open(tmp_path)


async def _make_store(path: Path) -> None:
    async with await SQLiteStore.open(path, writer="loop") as store:
        await store.write([Put("a", "k", b"v")])


@pytest.mark.parametrize("table", ["records", "items", "meta"])
async def test_a_damaged_database_of_ours_is_reported_not_reinitialised(
    tmp_path: Path, table: str
) -> None:
    path = tmp_path / "s.db"
    await _make_store(path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"DROP TABLE {table}")
    conn.close()
    with pytest.raises(DamagedStore, match=rf"^{path}: damaged .*{table}"):
        await SQLiteStore.open(path)
    assert table not in _tables(path)  # nothing was re-created


async def test_a_new_or_empty_file_is_initialised_and_stamped(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    for path in (tmp_path / "new.db", empty):
        await _make_store(path)
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
            assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        finally:
            conn.close()
        async with await SQLiteStore.open(path) as store:  # reopened: recognised as ours
            assert (await store.load("a")).records["k"].data == b"v"


async def test_a_database_made_before_the_stamp_is_recognised(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    await _make_store(path)
    with sqlite3.connect(path) as conn:  # what every earlier version left on disk
        conn.execute("PRAGMA application_id=0")
        conn.execute("PRAGMA user_version=0")
    conn.close()
    async with await SQLiteStore.open(path) as store:
        assert (await store.load("a")).records["k"].data == b"v"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
    finally:
        conn.close()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    await _make_store(path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version={schema.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreOpenError, match="newer Bastion"):
        await SQLiteStore.open(path)


async def test_delete_store_file_deletes_only_ours(tmp_path: Path) -> None:
    ours = tmp_path / "s.db"
    await _make_store(ours)
    companions = [tmp_path / "s.db-wal", tmp_path / "s.db-shm"]
    for companion in companions:
        companion.write_bytes(b"")
    assert delete_store_file(ours) is True
    assert not ours.exists()
    assert not any(companion.exists() for companion in companions)
    assert delete_store_file(ours) is False  # nothing left to delete

    text = tmp_path / "notes.txt"
    text.write_text("keep me")
    foreign = tmp_path / "other.db"
    _foreign_sqlite(foreign)
    for path in (text, foreign):
        with pytest.raises(NotAStateStore):
            delete_store_file(path)
        assert path.exists()

    empty = tmp_path / "empty.db"
    empty.touch()
    assert delete_store_file(empty) is False  # nothing stored: left as it is
    assert empty.exists()


async def test_delete_store_file_deletes_a_damaged_database_of_ours(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    await _make_store(path)
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE records")
    conn.close()
    assert delete_store_file(path) is True
    assert not path.exists()


def test_the_package_imports_without_posix_only_modules() -> None:
    code = (
        "import sys; sys.modules['fcntl'] = None\n"  # as on Windows: import fcntl fails
        "import bastion.persistence\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip() == "ok", done.stderr

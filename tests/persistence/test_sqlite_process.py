"""The SQLite writer process: failure, end of input, strict fsync, stale plans."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from bastion._core._real_work import RealWork
from bastion.persistence import Put, PutItem, SQLiteStore, StoreError, _writer_proc
from bastion.persistence import _sqlite_schema as schema
from bastion.testing import wait_for
from bastion.testing._loop import VirtualTimeLoop

_encode = msgspec.msgpack.Encoder().encode


def _frame(message: object) -> bytes:
    return schema.frame(_encode(message))


def _group(
    gid: int,
    *,
    sync: bool = False,
    checks: list[list[object]] | None = None,
    items: list[tuple[str, str, str, bytes, int | None]] | None = None,
) -> list[object]:
    return [gid, sync, checks or [], [], [], [], items or []]


async def _new_database(path: Path) -> None:
    async with await SQLiteStore.open(path, writer="loop"):
        pass


def test_an_unknown_writer_kind_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="writer must be"):
        SQLiteStore(tmp_path / "s.db", writer="fiber")  # type: ignore[arg-type]


async def test_reads_see_every_acknowledged_write(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db", writer="process") as store:
        assert store.writer_pid is not None
        futures = [
            await store.submit([PutItem("a", "q", f"{i:03d}", b"x")], defer=True) for i in range(50)
        ]
        assert len((await store.load("a")).collections["q"]) == 50  # waited for the acks
        assert all(f.done() for f in futures)
    assert store.writer_pid is None


async def test_a_dead_writer_process_fails_pending_and_later_writes(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db", writer="process") as store:
        await store.write([Put("a", "k", b"1")])
        pid = store.writer_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(StoreError, match="writer process is gone"):
            await store.write([Put("a", "k", b"2")])
        with pytest.raises(StoreError, match="writer process is gone"):
            await store.write([Put("a", "j", b"2")])
        assert (await store.read("a", "k")) is not None  # acknowledged state is intact


def test_end_of_input_commits_the_complete_frames_and_exits(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    asyncio.run(_new_database(path))
    proc = subprocess.Popen(
        [sys.executable, "-P", _writer_proc.__file__, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None
    partial = _frame(_group(3, items=[("a", "q", "3", b"z", None)]))
    proc.stdin.write(
        _frame(_group(1, items=[("a", "q", "1", b"x", None)]))
        + _frame(_group(2, items=[("a", "q", "2", b"y", None)]))
        + partial[:-3]
    )
    proc.stdin.close()  # what a kill -9 of the store's process looks like from here
    assert proc.wait(timeout=10) == 0
    assert proc.stdout is not None
    proc.stdout.close()
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT item FROM items ORDER BY item").fetchall()
    assert rows == [("1",), ("2",)]


def test_a_strict_group_is_fsynced_before_its_ack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.db"
    asyncio.run(_new_database(path))
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    conn = _writer_proc._open(str(path))
    try:
        acks = _writer_proc._commit(
            conn, [_group(1, items=[("a", "q", "1", b"x", None)])], str(path)
        )
        assert acks == [[1, 0, ""]]
        assert synced == []  # batched: no fsync
        acks = _writer_proc._commit(conn, [_group(2, sync=True)], str(path))
        assert acks == [[2, 0, ""]]
        assert len(synced) == 1
    finally:
        conn.close()


def test_a_group_planned_from_stale_versions_is_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    asyncio.run(_new_database(path))
    conn = _writer_proc._open(str(path))
    try:
        with sqlite3.connect(path) as other:
            other.execute("INSERT INTO records VALUES ('a', 'k', 7, x'00')")
        stale = _group(1, checks=[["a", "k", 0]], items=[("a", "q", "1", b"x", None)])
        fresh = _group(2, checks=[["a", "k", 7]], items=[("a", "q", "2", b"y", None)])
        acks = _writer_proc._commit(conn, [stale, fresh], str(path))
        assert [a[:2] for a in acks] == [[1, 1], [2, 0]]
        assert conn.execute("SELECT item FROM items").fetchall() == [("2",)]
    finally:
        conn.close()


async def test_outstanding_acks_are_declared_as_real_work(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    assert isinstance(loop, RealWork)  # the protocol the store's link looks for
    async with await SQLiteStore.open(tmp_path / "s.db", writer="process") as store:
        assert loop.executor_jobs == 0
        pending = await store.submit([Put("a", "k", b"1")])
        await asyncio.sleep(0)  # the group is sent on the next loop turn
        assert loop.executor_jobs == 1  # the writer process owes an ack: time flows for real
        await pending
        assert loop.executor_jobs == 0


def _watched_fds(loop: asyncio.AbstractEventLoop) -> set[int]:
    selector = loop._selector  # type: ignore[attr-defined]
    return {key.fd for key in selector.get_map().values()}


def test_an_ordinary_loop_keeps_watching_the_ack_pipe_between_groups(tmp_path: Path) -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        loop = asyncio.get_running_loop()
        async with await SQLiteStore.open(tmp_path / "s.db", writer="process") as store:
            ack_fd = store._link._proc.stdout.fileno()  # type: ignore[union-attr]
            await store.write([Put("a", "k", b"1")])
            watched_between = ack_fd in _watched_fds(loop)  # no selector call per group
            await store.write([Put("a", "k", b"2")])
            input_watched = store._link._proc.stdin.fileno() in _watched_fds(loop)  # type: ignore[union-attr]
        return watched_between, input_watched, ack_fd in _watched_fds(loop)

    watched_between, input_watched, watched_after_close = asyncio.run(scenario())
    assert watched_between
    assert not input_watched  # frames went out at once: the input pipe was never watched
    assert not watched_after_close


def test_an_ordinary_loop_notices_a_writer_process_that_dies_while_idle(tmp_path: Path) -> None:
    async def scenario() -> StoreError | None:
        async with await SQLiteStore.open(tmp_path / "s.db", writer="process") as store:
            await store.write([Put("a", "k", b"1")])
            link = store._link
            assert link is not None
            assert store.writer_pid is not None
            os.kill(store.writer_pid, signal.SIGKILL)
            await wait_for(lambda: link.broken, timeout=10.0)  # the watched pipe's end of file
            with pytest.raises(StoreError):
                await store.write([Put("a", "k", b"2")])
            return link.broken

    assert isinstance(asyncio.run(scenario()), StoreError)


async def test_a_virtual_time_loop_stops_watching_the_ack_pipe_when_idle(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    async with await SQLiteStore.open(tmp_path / "s.db", writer="process") as store:
        ack_fd = store._link._proc.stdout.fileno()  # type: ignore[union-attr]
        await store.write([Put("a", "k", b"1")])
        assert ack_fd not in _watched_fds(loop)  # its clock may jump freely again

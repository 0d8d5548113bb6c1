"""Reads of SQLiteStore: an item no pending batch touches is read without waiting for a
commit; one that a pending batch touches is read after that batch commits."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.persistence import DeleteItem, PutItem, SQLiteStore


@pytest.mark.parametrize("writer", ["loop", "thread", "process"])
async def test_an_untouched_item_is_read_without_a_commit(tmp_path: Path, writer: str) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db", writer=writer) as store:  # type: ignore[arg-type]
        await store.write([PutItem("a", "q", "old", b"1"), PutItem("a", "q", "gone", b"2")])
        commits = store.statistics().commits
        pending = await store.submit([PutItem("a", "q", "new", b"3")], defer=True)
        pending_delete = await store.submit([DeleteItem("a", "q", "gone")], defer=True)
        assert await store.read_item("a", "q", "old") == b"1"
        assert store.statistics().commits == commits  # nothing was flushed for it
        assert not pending.done()
        assert await store.read_item("a", "q", "new") == b"3"  # touched: committed first
        assert await store.read_item("a", "q", "gone") is None
        assert pending.done()
        assert pending_delete.done()
        assert store.statistics().commits > commits

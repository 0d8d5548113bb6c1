"""TaskQueue (issue 15): a task queued under a new id and gone before the next save was
never stored, so neither its row nor its deletion is written."""

from __future__ import annotations

from bastion.agents._task_types import QueuedTask, TaskQueue


def _task(task_id: str, seq: int) -> QueuedTask:
    return QueuedTask(id=task_id, type="t", seq=seq)


def test_a_new_task_gone_before_the_save_leaves_no_change() -> None:
    queue = TaskQueue()
    queue.add_new("a", _task("a", 1))
    del queue["a"]
    assert not queue.changed
    assert queue.drain_changes() == ([], [])


def test_a_saved_task_removed_later_is_deleted_from_the_store() -> None:
    queue = TaskQueue()
    queue.add_new("a", _task("a", 1))
    assert [k for k, _ in queue.drain_changes()[0]] == ["a"]  # saved: it is stored now
    del queue["a"]
    assert queue.drain_changes() == ([], ["a"])


def test_a_stored_task_deleted_then_queued_again_keeps_its_deletion() -> None:
    queue = TaskQueue()
    queue.load({"a": _task("a", 1)})  # restored: its row is in the store
    del queue["a"]
    queue.add_new("a", _task("a", 2))  # queued again before the save
    del queue["a"]
    assert queue.drain_changes() == ([], ["a"])  # the stored row still goes

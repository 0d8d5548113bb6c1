"""TaskAgent: priority queue, validation, timeouts, auto-pause, metrics, crash recovery."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import bastion
from bastion.agents import (
    Act,
    InvalidTask,
    QueueFull,
    Task,
    TaskAgent,
    TaskAgentStatus,
    TaskOutcome,
    act,
)
from bastion.resilience import is_retryable
from bastion.testing import capture_events, crash, wait_for
from tests.agents.conftest import open_store


class Recorder:
    """Task handlers that record what ran; ``block`` waits on an event."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.gate = asyncio.Event()

    async def work(self, task: Task) -> Any:
        self.ran.append(task.id)
        return {"echo": task.payload, "attempt": task.attempt}

    async def block(self, task: Task) -> str:
        self.ran.append(task.id)
        await self.gate.wait()
        return "unblocked"

    def fail(self, task: Task) -> None:
        self.ran.append(task.id)
        raise RuntimeError(f"task {task.id} failed")

    def handlers(self) -> dict[str, Any]:
        return {"work": self.work, "block": self.block, "fail": self.fail}


async def _status(ref: bastion.ActorRef) -> Any:
    return await act(ref, "status")


async def _idle(ref: bastion.ActorRef, processed: int) -> None:
    async def done() -> bool:
        s = await _status(ref)
        return bool(s.processed + s.failed >= processed and s.current_task is None)

    await wait_for(done, timeout=5.0)


async def test_queued_tasks_run_and_outcomes_are_recorded(store_kind: str, db_path: Path) -> None:
    rec = Recorder()
    async with open_store(store_kind, db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers=rec.handlers())
        accepted = await act(ref, "queue", type="work", payload={"n": 1}, id="t1")
        assert (accepted.id, accepted.state) == ("t1", "queued")
        await _idle(ref, 1)
        outcome = await act(ref, "result", task_id="t1")
        assert isinstance(outcome, TaskOutcome)
        assert (outcome.status, outcome.result, outcome.attempts) == (
            "completed",
            {"echo": {"n": 1}, "attempt": 1},
            1,
        )
        again = await act(ref, "queue", type="work", id="t1")  # idempotent by id
        assert again.state == "completed"
        assert rec.ran == ["t1"]
        metrics = await act(ref, "metrics")
        assert metrics["processed"] == 1
        assert metrics["failed"] == 0
        assert metrics["fastest"] is not None
        await ref.stop()


async def test_queue_many_is_idempotent_by_id_like_queue(store_kind: str, db_path: Path) -> None:
    rec = Recorder()
    async with open_store(store_kind, db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(
            TaskAgent, name="w", store=store, handlers=rec.handlers(), max_queue_size=3
        )
        first = await act(ref, "queue_many", tasks=[{"type": "work", "id": "a"}])
        assert [(t.id, t.state) for t in first] == [("a", "queued")]
        await _idle(ref, 1)
        await act(ref, "pause")
        await act(ref, "queue", type="work", id="b")
        # a retried queue_many whose reply was lost: "a" has its outcome, "b" is queued,
        # so only "c" is new, and the full-queue check counts only it
        again = await act(
            ref,
            "queue_many",
            tasks=[{"type": "work", "id": i} for i in ("a", "b", "c")],
        )
        assert [(t.id, t.state) for t in again] == [
            ("a", "completed"),
            ("b", "queued"),
            ("c", "queued"),
        ]
        assert again[0].outcome is not None
        assert again[0].outcome.result == {"echo": None, "attempt": 1}
        with pytest.raises(InvalidTask, match="twice"):
            await act(ref, "queue_many", tasks=[{"type": "work", "id": "d"}] * 2)
        assert (await _status(ref)).queued == 2  # the refused call queued nothing
        await act(ref, "resume")
        await _idle(ref, 3)
        assert rec.ran == ["a", "b", "c"]
        await ref.stop()


async def test_priority_order_high_normal_low_fifo_within(store_kind: str, db_path: Path) -> None:
    rec = Recorder()
    async with open_store(store_kind, db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers=rec.handlers())
        await act(ref, "pause")
        for tid, prio in [
            ("l1", "low"),
            ("n1", "normal"),
            ("h1", "high"),
            ("n2", "normal"),
            ("h2", "high"),
            ("l2", "low"),
        ]:
            await act(ref, "queue", type="work", id=tid, priority=prio)
        status = await _status(ref)
        assert status.queued_by_priority == {"high": 2, "normal": 2, "low": 2}
        await act(ref, "resume")
        await _idle(ref, 6)
        assert rec.ran == ["h1", "h2", "n1", "n2", "l1", "l2"]
        await ref.stop()


async def test_a_full_queue_is_a_clear_queue_full_and_nothing_is_lost(db_path: Path) -> None:
    rec = Recorder()
    async with open_store("sqlite", db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(
            TaskAgent, name="w", store=store, handlers=rec.handlers(), max_queue_size=3
        )
        await act(ref, "pause")
        for i in range(3):
            await act(ref, "queue", type="work", id=f"t{i}")
        with pytest.raises(QueueFull, match="max 3") as info:
            await act(ref, "queue", type="work", id="t3")
        assert info.value.retryable
        with pytest.raises(QueueFull):
            await act(ref, "queue_many", tasks=[{"type": "work"}])
        assert (await _status(ref)).queued == 3
        await act(ref, "resume")
        await _idle(ref, 3)
        assert rec.ran == ["t0", "t1", "t2"]
        await ref.stop()


def test_the_default_queue_bound_is_1000(tmp_path: Path) -> None:
    agent = TaskAgent(store=bastion.persistence.MemoryStore())
    assert agent.max_queue_size == 1000


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"type": "nope"}, InvalidTask, "no handler for task type 'nope'"),
        ({"type": "work", "timeout": -1.0}, InvalidTask, "timeout must be finite"),
        ({"type": "work", "id": "  "}, InvalidTask, "blank"),
        ({"type": "work", "payload": object()}, InvalidTask, "no codec hook"),
        ({"type": "work", "priority": "urgent"}, bastion.ValidationError, "Invalid enum value"),
        ({"kind": "work"}, bastion.ValidationError, "unknown field `kind`"),
    ],
)
async def test_invalid_tasks_get_clear_errors_and_the_agent_keeps_serving(
    db_path: Path, params: dict[str, Any], error: type[Exception], match: str
) -> None:
    rec = Recorder()
    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers=rec.handlers())
        with pytest.raises(error, match=match):
            await ref.call(Act("queue", params))
        report = await act(ref, "validate", type="nope")
        assert not report.valid
        assert "no handler" in report.errors[0]
        await act(ref, "queue", type="work", id="ok")
        await _idle(ref, 1)
        assert rec.ran == ["ok"]
        assert (await _status(ref)).queued == 0
        await ref.stop()


async def test_a_task_that_times_out_fails_with_the_reason(db_path: Path) -> None:
    rec = Recorder()
    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers=rec.handlers())
        await act(ref, "queue", type="block", id="slow", timeout=2.0)
        await _idle(ref, 1)
        outcome = await act(ref, "result", task_id="slow")
        assert outcome.status == "failed"
        assert outcome.error == "timed out after 2.0s"
        await ref.stop()


async def test_auto_pause_after_ten_consecutive_errors(db_path: Path) -> None:
    rec = Recorder()
    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers=rec.handlers())
        await act(ref, "queue_many", tasks=[{"type": "fail", "id": f"f{i}"} for i in range(12)])
        await wait_for(lambda: _paused(ref), timeout=5.0)
        status = await _status(ref)
        assert (status.failed, status.consecutive_errors, status.queued) == (10, 10, 2)
        assert status.pause_reason == "consecutive_errors"
        assert rt.registry.metadata("w")["health"] == "paused"
        await act(ref, "resume")
        await _idle(ref, 12)
        assert (await _status(ref)).failed == 12
        await ref.stop()


async def _paused(ref: bastion.ActorRef) -> bool:
    return bool((await _status(ref)).status == "paused")


async def test_process_runs_a_task_now(db_path: Path) -> None:
    rec = Recorder()
    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers=rec.handlers())
        outcome = await act(ref, "process", type="work", payload=5, id="p")
        assert outcome.result == {"echo": 5, "attempt": 1}
        failed = await act(ref, "process", type="fail", id="q")
        assert failed.status == "failed"
        assert failed.error == "RuntimeError: task q failed"
        await act(ref, "pause")
        with pytest.raises(bastion.BusinessError, match="paused"):
            await act(ref, "process", type="work")
        await ref.stop()


async def test_recovery_after_an_actor_crash_keeps_queue_counters_and_in_flight_task(
    store_kind: str, db_path: Path
) -> None:
    rec = Recorder()
    async with open_store(store_kind, db_path) as store, bastion.open_runtime() as rt:
        spec = bastion.ChildSpec(
            id="w", actor=TaskAgent, name="w", kwargs={"store": store, "handlers": rec.handlers()}
        )
        sup = await rt.start_supervisor([spec], intensity=bastion.RestartIntensity(5, 5.0))
        ref = rt.ref("w")
        await act(ref, "process", type="work", id="before")
        await act(ref, "queue", type="block", id="inflight", priority="high")
        await act(ref, "queue_many", tasks=[{"type": "work", "id": f"q{i}"} for i in range(5)])
        await wait_for(lambda: "inflight" in rec.ran, timeout=5.0)
        first = rt.whereis("w")
        assert first is not None
        with capture_events(("bastion", "agent", "task", "recovered")) as captured:
            await crash(first)
            await wait_for(lambda: _restarted(rt, first), timeout=5.0)
            rec.gate.set()
            await _idle(ref, 7)
        status = await _status(ref)
        assert status.processed == 7  # "before" + the in-flight one + 5 queued
        assert status.recovered_in_flight == 1
        assert captured.count("bastion", "agent", "task", "recovered") == 1
        assert rec.ran.count("inflight") == 2  # at-least-once: it ran again
        outcome = await act(ref, "result", task_id="inflight")
        assert (outcome.status, outcome.attempts) == ("completed", 2)
        assert rec.ran[-5:] == [f"q{i}" for i in range(5)]
        await sup.stop()


def _restarted(rt: bastion.Runtime, old: bastion.ActorRef) -> bool:
    now = rt.whereis("w")
    return now is not None and now != old and now.is_alive


async def test_a_task_that_keeps_killing_the_agent_is_given_up(db_path: Path) -> None:
    rec = Recorder()
    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        spec = bastion.ChildSpec(
            id="w",
            actor=TaskAgent,
            name="w",
            kwargs={"store": store, "handlers": rec.handlers(), "max_attempts": 2},
        )
        sup = await rt.start_supervisor([spec], intensity=bastion.RestartIntensity(5, 5.0))
        await act(rt.ref("w"), "queue", type="block", id="poison")
        for attempt in (1, 2):
            await wait_for(lambda a=attempt: rec.ran.count("poison") == a, timeout=5.0)
            current = rt.whereis("w")
            assert current is not None
            await crash(current)
            await wait_for(lambda c=current: _restarted(rt, c), timeout=5.0)
        await _idle(rt.ref("w"), 1)
        outcome = await act(rt.ref("w"), "result", task_id="poison")
        assert outcome.status == "failed"
        assert "gave up after 2 attempts" in outcome.error
        await sup.stop()


# The TaskAgent classifies exactly as bastion.resilience.retry does (one classification):
# an unclassified exception is a bug, not retried; a connection reset is transient.
@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (RuntimeError("a bug"), False),
        (ConnectionResetError("reset by peer"), True),
        (bastion.ValidationError("malformed document"), False),
        (bastion.BusinessError("refused"), False),
        (bastion.InfrastructureError("db down"), True),
        (bastion.InfrastructureError("db gone", retryable=False), False),
    ],
)
async def test_a_failed_outcome_says_whether_a_retry_may_help(
    db_path: Path, error: Exception, retryable: bool
) -> None:
    def handler(task: Task) -> None:
        raise error

    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers={"h": handler})
        outcome = await act(ref, "process", type="h", id="t")
        assert (outcome.status, outcome.retryable) == ("failed", retryable)
        assert outcome.retryable == is_retryable(error)
        assert outcome.error == f"{type(error).__name__}: {error}"
        await ref.stop()


async def test_a_timed_out_task_is_retryable(db_path: Path) -> None:
    rec = Recorder()
    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers=rec.handlers())
        outcome = await act(ref, "process", type="block", id="slow", timeout=1.0)
        assert (outcome.status, outcome.retryable) == ("failed", True)
        await ref.stop()


def test_outcomes_stored_before_the_retryable_field_read_as_retryable() -> None:
    import msgspec

    old = b'{"id": "t", "type": "h", "status": "failed", "error": "RuntimeError: x"}'
    outcome = msgspec.json.decode(old, type=TaskOutcome)
    assert outcome.retryable is True


async def test_a_paused_agent_is_still_paused_after_a_restart_and_takes_no_task(
    store_kind: str, db_path: Path
) -> None:
    rec = Recorder()
    async with open_store(store_kind, db_path) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers=rec.handlers())
        await act(ref, "pause", reason="maintenance")
        await act(ref, "queue", type="work", payload=1, id="later")
        await ref.stop()
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers=rec.handlers())
        status = await _status(ref)
        assert status.status is TaskAgentStatus.PAUSED  # restored as the enum, not a str
        assert (status.pause_reason, status.queued) == ("maintenance", 1)
        await rt.wait_idle(timeout=1.0)
        assert rec.ran == []
        await ref.stop()

"""Resilience, persistence and TaskAgent measurements land in the runtime's metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import bastion
from bastion.agents import Task, TaskAgent, act
from bastion.persistence import Put, SQLiteStore
from bastion.resilience import (
    Bulkhead,
    BulkheadFull,
    CircuitBreaker,
    CircuitOpen,
    CountWindow,
    Retry,
    RetryBudget,
)
from bastion.telemetry import _hooks
from bastion.testing import VirtualClock, wait_for
from tests.agents.test_persistent_agent import Shop


class Flaky(bastion.InfrastructureError):
    """A transient failure (retryable)."""


def value(rt: bastion.Runtime, name: str, **labels: str) -> float:
    return rt.metrics.family(name).total(**labels)


async def test_retry_attempts_by_target_and_outcome(rt: bastion.Runtime) -> None:
    failures = iter([Flaky("1"), Flaky("2")])

    async def flaky() -> str:
        error = next(failures, None)
        if error is not None:
            raise error
        return "done"

    retry = Retry(attempts=5, target="db", budget=RetryBudget(ratio=1.0, min_per_second=100))
    assert await retry.acall(flaky) == "done"
    assert value(rt, "bastion_retry_attempts", target="db", outcome="retry") == 2
    assert value(rt, "bastion_retry_attempts", target="db", outcome="success") == 1


async def test_retry_budget_refusals_are_counted(rt: bastion.Runtime) -> None:
    async def always() -> None:
        raise Flaky("down")

    spent = RetryBudget("api", ratio=0.0, min_per_second=0.0, max_tokens=1)
    with pytest.raises(bastion.BastionError):
        await Retry(attempts=5, target="api", budget=spent).acall(always)
    assert value(rt, "bastion_retry_budget_refusals", target="api") == 1


async def test_breaker_transitions_state_and_rejections(rt: bastion.Runtime) -> None:
    breaker = CircuitBreaker("payments", window=CountWindow(4), minimum_calls=2, open_for=30.0)

    def fail() -> None:
        raise Flaky("no")

    for _ in range(2):
        with pytest.raises(Flaky):
            breaker.call_sync(fail)
    with pytest.raises(CircuitOpen):
        breaker.call_sync(fail)
    transitions = rt.metrics.family("bastion_breaker_transitions")
    assert transitions.sample(breaker="payments", from_state="closed", to_state="open").value == 1
    assert value(rt, "bastion_breaker_state", breaker="payments") == 2.0
    assert value(rt, "bastion_breaker_rejections", breaker="payments") == 1


async def test_bulkhead_waits_and_rejections(rt: bastion.Runtime) -> None:
    bulkhead = Bulkhead("db", max_concurrent=1, max_queue=1, max_wait=10.0)
    holder = asyncio.create_task(bulkhead.call(asyncio.sleep, 2.0))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(bulkhead.call(asyncio.sleep, 0))
    await asyncio.sleep(0)
    with pytest.raises(BulkheadFull):
        await bulkhead.call(asyncio.sleep, 0)
    await holder
    await waiter
    assert value(rt, "bastion_bulkhead_rejections", bulkhead="db", reason="bulkhead_full") == 1
    waits = rt.metrics.family("bastion_bulkhead_wait_seconds").sample(bulkhead="db").histogram
    assert waits is not None
    assert waits.count == 1
    assert waits.percentile(50) == pytest.approx(2.0, rel=0.01)  # virtual seconds queued


async def test_task_agent_outcomes_queue_and_durations(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    async def work(task: Task) -> str:
        await clock.sleep(0.5)  # half a second of work, in virtual time
        return "ok"

    def fail(task: Task) -> None:
        raise RuntimeError("bad task")

    store = bastion.persistence.MemoryStore()
    ref = await rt.spawn(TaskAgent, name="jobs", store=store, handlers={"w": work, "f": fail})
    await act(ref, "queue", type="w", id="t1")
    await act(ref, "queue", type="f", id="t2")
    await wait_for(lambda: value(rt, "bastion_task_agent_tasks") == 2, timeout=10)
    assert value(rt, "bastion_task_agent_tasks", agent_class="TaskAgent", outcome="completed") == 1
    assert value(rt, "bastion_task_agent_tasks", agent_class="TaskAgent", outcome="failed") == 1
    durations = rt.metrics.family("bastion_task_agent_task_seconds").samples[0].histogram
    assert durations is not None
    assert durations.percentile(100) == pytest.approx(0.5, rel=0.01)
    await wait_for(lambda: value(rt, "bastion_task_agent_queue_length", agent="jobs") == 0)
    await ref.stop()
    await store.close()


async def test_persistence_write_latency_group_size_and_quarantine(
    rt: bastion.Runtime, tmp_path: Path
) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db") as store:
        ref = await rt.spawn(Shop, name="shop", store=store)
        await act(ref, "sell", sku="a")
        await ref.stop()
        writes = rt.metrics.family("bastion_persistence_write_seconds")
        assert writes.sample(store="sqlite").value >= 1
        groups = rt.metrics.family("bastion_persistence_group_size").sample(store="sqlite")
        assert groups.histogram is not None
        assert groups.histogram.count >= 1
        assert value(rt, "bastion_persistence_writer_lag", store="sqlite") == 0
        await store.write([Put("agent/broken", "state", b"\x00garbage")])
        broken = await rt.spawn(Shop, name="broken", store=store)
        assert value(rt, "bastion_persistence_quarantines", store="sqlite") == 1
        await broken.stop()


def test_hooks_do_nothing_outside_a_runtime() -> None:
    assert _hooks.registry() is None
    _hooks.count("bastion_retry_attempts", "t", "retry")  # no runtime: no error, no effect


@pytest.mark.bastion(runtime={"metrics": False})
async def test_hooks_do_nothing_when_metrics_are_off(rt: bastion.Runtime) -> None:
    _hooks.count("bastion_retry_attempts", "t", "retry")
    assert "bastion_retry_attempts" not in rt.metrics.names()


async def test_a_hook_checks_the_metric_definition_once_per_label_set(
    rt: bastion.Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hooks on hot paths (one per TaskAgent task) keep the labelled child they found."""
    registrations: list[str] = []
    counter = type(rt.metrics).counter

    def counting(self: object, name: str, *args: object, **kwargs: object) -> object:
        registrations.append(name)
        return counter(self, name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(type(rt.metrics), "counter", counting)
    for _ in range(50):
        _hooks.count("bastion_retry_attempts", "t", "retry")
        _hooks.count("bastion_retry_attempts", "t", "gave_up")
    assert registrations == ["bastion_retry_attempts"] * 2
    assert value(rt, "bastion_retry_attempts", target="t", outcome="retry") == 50
    assert value(rt, "bastion_retry_attempts", target="t", outcome="gave_up") == 50


async def test_hook_calls_past_the_label_budget_are_each_counted_as_folded(
    rt: bastion.Runtime,
) -> None:
    _hooks.count("bastion_breaker_rejections", "first")
    metric = _hooks._metric(rt.metrics, "bastion_breaker_rejections")
    metric.max_series = 1  # the budget is full now
    for _ in range(3):
        _hooks.count("bastion_breaker_rejections", "second")  # over budget: "other"
    folded = rt.metrics.family("bastion_metric_series_folded")
    assert folded.sample(metric="bastion_breaker_rejections").value == 3
    assert value(rt, "bastion_breaker_rejections", breaker="other") == 3

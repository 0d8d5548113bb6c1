"""Signals (routing, overflow, release on death) and MonitorAgent (samples, alerts)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import bastion
from bastion.agents import (
    Agent,
    MonitorAgent,
    Overflow,
    Signal,
    SignalBus,
    TaskAgent,
    Thresholds,
    act,
    action,
    topic_matches,
)
from bastion.persistence import MemoryStore
from bastion.testing import VirtualClock, crash, wait_for


class Listener(Agent):
    def __init__(self, gate: asyncio.Event | None = None) -> None:
        super().__init__()
        self.got: list[str] = []
        self.gate = gate

    async def on_signal(self, signal: Signal) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.got.append(f"{signal.topic}:{signal.data}")

    @action
    def received(self) -> list[str]:
        return list(self.got)


@pytest.mark.parametrize(
    ("pattern", "topic", "hit"),
    [
        ("task.completed", "task.completed", True),
        ("task.*", "task.failed", True),
        ("task.*", "task.a.b", False),
        ("task.**", "task.a.b", True),
        ("task.**", "task", True),
        ("**", "anything.at.all", True),
        ("*.alert.*", "monitor.alert.memory", True),
        ("task.completed", "task.failed", False),
    ],
)
def test_topic_patterns(pattern: str, topic: str, hit: bool) -> None:
    assert topic_matches(pattern, topic) is hit


async def test_exact_and_wildcard_routing() -> None:
    async with bastion.open_runtime() as rt:
        bus = await SignalBus().start(rt)
        exact = await rt.spawn(Listener, name="exact")
        wild = await rt.spawn(Listener, name="wild")
        await bus.subscribe("task.completed", exact)
        await bus.subscribe("task.*", wild)
        assert bus.publish("task.completed", 1) == 2
        assert bus.publish("task.failed", 2) == 1
        assert bus.publish("other", 3) == 0
        await rt.wait_idle()
        assert await act(exact, "received") == ["task.completed:1"]
        assert await act(wild, "received") == ["task.completed:1", "task.failed:2"]
        stats = bus.statistics()
        assert (stats.published, stats.delivered, stats.unrouted) == (3, 3, 1)
        with pytest.raises(ValueError, match="invalid signal pattern"):
            await bus.subscribe("a..b", exact)
        await exact.stop()
        await wild.stop()
        await bus.stop()


@pytest.mark.parametrize(
    ("policy", "kept"),
    [
        (Overflow.DROP_OLDEST, ["s:0", "s:4", "s:5"]),
        (Overflow.DROP_NEWEST, ["s:0", "s:2", "s:3"]),
    ],
)
async def test_a_full_subscriber_buffers_then_drops_by_policy(
    policy: Overflow, kept: list[str]
) -> None:
    gate = asyncio.Event()
    async with bastion.open_runtime() as rt:
        bus = await SignalBus(buffer=2, overflow=policy).start(rt)
        slow = await rt.spawn(Listener, gate, name="slow", mailbox_capacity=1)
        await bus.subscribe("s", slow)
        bus.publish("s", 0)
        await wait_for(lambda: slow.statistics().mailbox_depth == 0, timeout=5.0)  # s:0 taken
        for i in range(1, 6):  # s:1 fills the mailbox, 2 fit in the buffer, the rest drop
            bus.publish("s", i)
        stats = bus.statistics().per_subscription[0]
        assert (stats.buffered, stats.dropped) == (2, 2)
        gate.set()
        await wait_for(lambda: bus.statistics().per_subscription[0].buffered == 0, timeout=5.0)
        await rt.wait_idle()
        got = await act(slow, "received")
        assert got[0] == "s:0"
        assert got[1] == "s:1"
        assert got[2:] == kept[1:]
        assert bus.statistics().dropped == 2
        await slow.stop()
        await bus.stop()


async def test_subscriptions_are_released_when_the_subscriber_dies() -> None:
    async with bastion.open_runtime() as rt:
        bus = await SignalBus().start(rt)
        doomed = await rt.spawn(Listener, name="doomed")
        await bus.subscribe("a", doomed)
        await bus.subscribe("b.*", doomed)
        await crash(doomed)
        await wait_for(lambda: bus.statistics().subscriptions == 0, timeout=5.0)
        assert bus.statistics().subscriptions_released == 2
        assert bus.publish("a") == 0
        await bus.stop()


async def test_monitor_samples_alerts_and_keeps_bounded_history() -> None:
    async with bastion.open_runtime() as rt:
        bus = await SignalBus().start(rt)
        watcher = await rt.spawn(Listener, name="watcher")
        await bus.subscribe("monitor.**", watcher)

        def fail(task: Any) -> None:
            raise RuntimeError("boom")

        worker = await rt.spawn(
            TaskAgent, name="w", store=MemoryStore(), handlers={"fail": fail, "ok": lambda t: 1}
        )
        monitor = await rt.spawn(
            MonitorAgent,
            name="monitor",
            signals=bus,
            interval=10.0,
            history_size=3,
            thresholds=Thresholds(max_error_rate=0.5),
        )
        await act(worker, "queue_many", tasks=[{"type": "fail"}, {"type": "fail"}, {"type": "ok"}])
        await wait_for(lambda: rt.registry.metadata("w").get("failed") == 2, timeout=5.0)
        await wait_for(lambda: rt.registry.metadata("w").get("processed") == 1, timeout=5.0)
        sample = await act(monitor, "collect")
        assert sample.alerts == ("error_rate",)
        assert sample.queue_sizes == {"w": 0}
        assert (sample.score, sample.band) == (75, "good")
        assert "error_rate" in await act(monitor, "alerts")
        await VirtualClock().advance(10.0)  # one interval without new outcomes
        await act(monitor, "collect")  # the error rate over the last interval is 0 again
        await rt.wait_idle()
        got = await act(watcher, "received")
        assert got[0].startswith("monitor.alert.error_rate:")
        assert got[1].startswith("monitor.alert_cleared.error_rate:")
        for _ in range(3):
            await act(monitor, "collect")
        assert len(await act(monitor, "recent", limit=10)) == 3  # bounded history
        await wait_for(lambda: _ticked(monitor), timeout=60.0)  # the periodic collection
        for ref in (monitor, worker, watcher):
            await ref.stop()
        await bus.stop()


async def _ticked(monitor: bastion.ActorRef) -> bool:
    latest = await act(monitor, "health")
    return latest is not None and latest.at >= 10.0


async def test_a_subscriber_that_unsubscribes_while_alive_is_demonitored() -> None:
    async with bastion.open_runtime() as rt:
        bus = await SignalBus().start(rt)
        listener = await rt.spawn(Listener, name="listener")
        first = await bus.subscribe("a", listener)
        second = await bus.subscribe("b.*", listener)
        assert rt.statistics().monitors == 1  # one monitor per subscriber
        assert bus.unsubscribe(first)
        await rt.wait_idle(timeout=1.0)
        assert rt.statistics().monitors == 1  # still subscribed to "b.*"
        assert bus.unsubscribe(second)
        await rt.wait_idle(timeout=1.0)
        assert rt.statistics().monitors == 0
        again = await bus.subscribe("a", listener)  # watched again
        assert rt.statistics().monitors == 1
        assert bus.publish("a", 1) == 1
        await rt.wait_idle(timeout=1.0)
        assert await act(listener, "received") == ["a:1"]
        bus.unsubscribe(again)
        await rt.wait_idle(timeout=1.0)
        assert rt.statistics().monitors == 0
        await bus.stop()

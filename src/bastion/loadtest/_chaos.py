"""Chaos mode: faults injected while the load runs, and the check that nothing was lost.

* **kills**: a chaos actor (a child of the load test's supervisor) kills a random live
  worker of the supervisor registered as ``supervisor``, ``kill_rate`` times a second
  on average (exponential gaps, seeded);
* **store faults**: every :class:`ChaosStore` the system under test writes through
  makes a ``slow_writes`` fraction of writes wait ``write_delay`` seconds and a
  ``failing_writes`` fraction raise :class:`~bastion.loadtest.ChaosFault`, only
  while the load runs;
* **dropped casts**: :func:`~bastion.loadtest.cast_actor` scenarios silently drop a
  ``drop_casts`` fraction of their casts (a lossy link: the sender is not told).

Each fault is a :class:`ChaosEvent` in the result, so the report can show restarts,
errors and latency around it. ``verify(rt, context)`` runs after the load (faults off)
and returns a dict; a non-zero ``"lost"`` in it fails the run. :class:`TaskLedger`
is one: it records what TaskAgents accepted and checks every task is still known.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bastion._core._actor import Actor
from bastion._core._childspec import ChildSpec, Restart
from bastion._core._errors import ActorError, BastionError
from bastion._core._runtime import Runtime
from bastion._core._supervisor_handle import SupervisorHandle
from bastion.loadtest._errors import ChaosFault
from bastion.loadtest._result import ChaosEvent

if TYPE_CHECKING:
    from bastion.loadtest._engine import Engine

__all__ = ["Chaos", "ChaosKill", "ChaosLog", "ChaosStore", "TaskLedger"]

Verify = Callable[[Runtime, Any], Awaitable[dict[str, Any]]]


class ChaosKill(ActorError):
    """The reason of an actor killed by chaos mode."""


class ChaosLog:
    """Faults injected during one run, stamped relative to the start of recording."""

    def __init__(self) -> None:
        self.restarts_before = 0
        self.events: list[ChaosEvent] = []
        self.origin: Callable[[], float] = lambda: 0.0
        self.counts: dict[str, int] = {}

    def add(self, kind: str, target: str, detail: str = "") -> None:
        """Record one fault now."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if len(self.events) < 10_000:
            self.events.append(ChaosEvent(round(self.origin(), 6), kind, target, detail))


def _fraction(what: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number, got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{what} must be a fraction within 0..1, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Chaos:
    """What to break while the load runs (see the module docstring)."""

    supervisor: str | None = None
    kill_rate: float = 1.0
    stores: Callable[[Any], Sequence[ChaosStore]] | None = None
    slow_writes: float = 0.0
    write_delay: float = 0.05
    failing_writes: float = 0.0
    drop_casts: float = 0.0
    verify: Verify | None = None
    _active: list[ChaosStore] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.supervisor is not None and not isinstance(self.supervisor, str):
            raise TypeError(f"supervisor is a registered name, got {self.supervisor!r}")
        rate = self.kill_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            raise TypeError(f"kill_rate must be a number, got {rate!r}")
        if not (0 <= rate <= 1000 and math.isfinite(rate)):
            raise ValueError(f"kill_rate must be within 0..1000 kills per second, got {rate!r}")
        _fraction("slow_writes", self.slow_writes)
        _fraction("failing_writes", self.failing_writes)
        _fraction("drop_casts", self.drop_casts)
        if not (0 <= self.write_delay <= 60):
            raise ValueError(f"write_delay must be within 0..60 s, got {self.write_delay!r}")

    def children(self, log: ChaosLog, engine: Engine, seed: int | None) -> list[ChildSpec]:
        """The chaos actors to start beside the driver (the engine stamps the log)."""
        log.origin = lambda: engine.now() - engine.warm_end
        engine.drop_casts = self.drop_casts
        engine.chaos_log = log
        rng = random.Random(f"{seed}:chaos")
        return [
            ChildSpec(
                "chaos",
                ChaosAgent,
                args=(self, log, rng.random()),
                restart=Restart.TEMPORARY,
                shutdown=5.0,
            )
        ]

    def arm(self, rt: Runtime, context: Any, log: ChaosLog, seed: float) -> None:
        """Turn store faults on for the stores the system under test uses."""
        log.restarts_before = rt.statistics().restarts
        stores = list(self.stores(context)) if self.stores is not None else []
        for number, store in enumerate(stores):
            if not isinstance(store, ChaosStore):
                raise TypeError(f"chaos stores must be ChaosStore objects, got {store!r}")
            store.faults = _StoreFaults(self, log, random.Random(f"{seed}:{number}"))
            self._active.append(store)

    def disarm(self) -> None:
        """Turn store faults off again."""
        for store in self._active:
            store.faults = None
        self._active.clear()

    async def check(self, rt: Runtime, context: Any, log: ChaosLog) -> dict[str, Any]:
        """The fault counts plus what ``verify`` says (run after the load)."""
        summary: dict[str, Any] = {
            "faults": dict(sorted(log.counts.items())),
            "restarts": rt.statistics().restarts - log.restarts_before,
        }
        if self.verify is not None:
            summary.update(await self.verify(rt, context))
        return summary


class ChaosAgent(Actor):
    """Kills random workers of the target supervisor; arms store faults while alive."""

    def __init__(self, chaos: Chaos, log: ChaosLog, seed: float) -> None:
        self.chaos = chaos
        self.log = log
        self.random = random.Random(seed)
        self.kills = 0

    def on_start(self) -> None:
        """Arm the stores and schedule the first kill."""
        self._schedule()

    def on_stop(self, reason: object) -> None:
        """Faults end with the load."""
        self.chaos.disarm()

    def _schedule(self) -> None:
        if self.chaos.supervisor is not None and self.chaos.kill_rate > 0:
            self.send_after(self.random.expovariate(self.chaos.kill_rate), "kill")

    async def handle_info(self, message: object) -> None:
        """Kill one random live worker, then schedule the next kill."""
        if message != "kill" or self.chaos.supervisor is None:
            return
        handle = SupervisorHandle._create(self.runtime.ref(self.chaos.supervisor))
        try:
            children = await handle.which_children(timeout=1.0)
        except BastionError:  # the supervisor is restarting or gone: try at the next tick
            children = []
        alive = [c for c in children if c.alive and c.ref is not None]
        if alive:
            victim = self.random.choice(alive)
            assert victim.ref is not None
            self.kills += 1
            victim.ref.kill(ChaosKill(f"chaos kill #{self.kills}"))
            self.log.add("kill", victim.id)
        self._schedule()

    def handle_call(self, message: object) -> int:
        """The number of kills so far."""
        return self.kills


class _StoreFaults:
    """Draws, per write, whether it is slowed down or fails."""

    def __init__(self, chaos: Chaos, log: ChaosLog, rng: random.Random) -> None:
        self.chaos = chaos
        self.log = log
        self.random = rng.random

    async def before_write(self, store_name: str) -> None:
        chaos = self.chaos
        if chaos.failing_writes and self.random() < chaos.failing_writes:
            self.log.add("store_fail", store_name)
            raise ChaosFault(f"{store_name}: write failed (chaos mode)")
        if chaos.slow_writes and self.random() < chaos.slow_writes:
            self.log.add("store_slow", store_name, f"{chaos.write_delay * 1000:g} ms")
            await asyncio.sleep(chaos.write_delay)


class ChaosStore:
    """Wraps a state store; writes go through unchanged unless chaos mode is on.

    Every attribute is the wrapped store's; ``submit`` and ``write`` may be slowed down
    or fail while a load test with store faults runs (see :class:`Chaos`).
    """

    def __init__(self, inner: Any, *, name: str = "store") -> None:
        self._inner = inner
        self._name = name
        self.faults: _StoreFaults | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def submit(self, ops: Any, **options: Any) -> Any:
        """The wrapped ``submit``, after the chaos draw."""
        if self.faults is not None:
            await self.faults.before_write(self._name)
        return await self._inner.submit(ops, **options)

    async def write(self, ops: Any, **options: Any) -> Any:
        """The wrapped ``write``, after the chaos draw."""
        if self.faults is not None:
            await self.faults.before_write(self._name)
        return await self._inner.write(ops, **options)

    def __repr__(self) -> str:
        return f"ChaosStore({self._inner!r})"


@dataclass
class TaskLedger:
    """What TaskAgents accepted during a load test, to prove none of it was lost.

    A scenario calls :meth:`accept` after a ``queue`` action succeeded. ``verify``
    (pass ``ledger.verify`` as ``Chaos(verify=...)``) lets each agent drain its queue
    (resuming one that paused itself after errors), then asks for every accepted
    task's outcome: a task with none, in an agent with nothing left to run, was lost.
    """

    accepted: dict[str, str] = field(default_factory=dict)  # task id -> agent name
    drain_timeout: float = 60.0
    call_timeout: float = 5.0

    def accept(self, agent: str, task_id: str) -> None:
        """Record that the TaskAgent registered as ``agent`` accepted ``task_id``."""
        self.accepted[task_id] = agent

    async def verify(self, rt: Runtime, context: Any = None) -> dict[str, Any]:
        """``{"accepted", "completed", "failed", "pending", "lost", "lost_ids"}``."""
        from bastion.agents import act

        deadline = rt.loop.time() + self.drain_timeout
        drained = {agent: await self._drain(rt, agent, deadline) for agent in self._agents()}
        counts = {"completed": 0, "failed": 0, "pending": 0}
        lost: list[str] = []
        for task_id, agent in sorted(self.accepted.items()):
            outcome = await act(
                rt.ref(agent), "result", call_timeout=self.call_timeout, task_id=task_id
            )
            if outcome is not None:
                counts[str(outcome.status)] = counts.get(str(outcome.status), 0) + 1
            elif drained[agent]:
                lost.append(task_id)
            else:
                counts["pending"] += 1
        return {"accepted": len(self.accepted), **counts, "lost": len(lost), "lost_ids": lost[:20]}

    def _agents(self) -> list[str]:
        return sorted(set(self.accepted.values()))

    async def _drain(self, rt: Runtime, agent: str, deadline: float) -> bool:
        """Wait (bounded) until ``agent`` has nothing queued; True if it got there."""
        from bastion.agents import act

        ref = rt.ref(agent)
        while True:
            stats = await act(ref, "status", call_timeout=self.call_timeout)
            if stats.queued == 0 and stats.current_task is None:
                return True
            if str(stats.status) == "paused":
                await act(ref, "resume", call_timeout=self.call_timeout)
            if rt.loop.time() >= deadline:
                return False
            await asyncio.sleep(0.05)  # the agent offers no "drained" notice to wait on

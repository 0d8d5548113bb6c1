"""One test's resources, opened inside the test's own event loop and closed after it.

pytest fixtures are synchronous, but a runtime must be opened on the loop the test
runs on. So the plugin's async fixtures return a :class:`Deferred`; the plugin resolves
it inside the test's loop, in a :class:`TestSession` that owns an ``AsyncExitStack``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bastion.testing._dump import add_introspector
from bastion.testing._leaks import runtime_leaks, task_leaks

if TYPE_CHECKING:
    from bastion._core._ref import ActorRef
    from bastion._core._runtime import Runtime
    from bastion.testing._probe import Probe

__all__ = ["Deferred", "SessionOptions", "TestSession"]


@dataclass(frozen=True)
class SessionOptions:
    """Per-test settings, from ``@pytest.mark.bastion(...)`` and the environment."""

    virtual: bool = True
    limit: float = 60.0
    leak_check: bool = True
    io_grace: float = 0.05
    runtime: Mapping[str, Any] = field(default_factory=dict)


class Deferred:
    """A fixture value made inside the test's loop by ``factory(session)``, once per test."""

    __slots__ = ("factory", "key")

    def __init__(self, key: str, factory: Callable[[TestSession], Awaitable[Any]]) -> None:
        self.key = key
        self.factory = factory

    def __repr__(self) -> str:
        return f"<bastion fixture {self.key!r}: resolved in the test's event loop>"


class TestSession:
    """Resources of one test: its runtime, helper actors (probes) and their cleanup."""

    __test__ = False  # not a pytest test class

    def __init__(self, options: SessionOptions) -> None:
        self.options = options
        self.loop = asyncio.get_running_loop()
        self.stack = AsyncExitStack()
        self.fixtures = AsyncExitStack()  # async generator fixtures, torn down first
        self.runtime: Runtime | None = None
        self.owned: list[ActorRef] = []
        self._values: dict[str, Any] = {}

    async def resolve(self, value: Any) -> Any:
        """``value``, or what a :class:`Deferred` stands for (made once per test)."""
        if not isinstance(value, Deferred):
            return value
        if value.key not in self._values:
            self._values[value.key] = await value.factory(self)
        return self._values[value.key]

    async def get_runtime(self) -> Runtime:
        """The test's runtime, opened on first use and closed after the test."""
        if self.runtime is None:
            import bastion

            rt = await self.stack.enter_async_context(bastion.open_runtime(**self.options.runtime))
            self.stack.callback(add_introspector(self.loop, lambda: describe_runtime(rt)))
            self.runtime = rt
        return self.runtime

    async def new_probe(self, name: str | None = None) -> Probe:
        """A probe spawned in the test's runtime, owned (and stopped) by the session."""
        from bastion.testing._probe import Probe

        probe = await Probe.spawn(await self.get_runtime(), name=name)
        self.owned.append(probe.ref)
        return probe

    async def close_fixtures(self) -> None:
        """Tear the test's async generator fixtures down (before the leak check)."""
        await self.fixtures.aclose()

    def leaks(self) -> list[str]:
        """What the test left in its runtime (before the session closes it)."""
        if self.runtime is None:
            return []
        return runtime_leaks(self.runtime, self.owned)

    async def close(self) -> list[str]:
        """Close the runtime and helpers; returns asyncio tasks and timers left running."""
        await self.stack.aclose()
        await _settle(self.loop)
        current = asyncio.current_task()
        leaks = task_leaks(self.loop, current)
        timers = getattr(self.loop, "timers", None)
        if timers is not None:
            leaks += timers.leaks(self.loop.time())
        return leaks


async def _settle(loop: asyncio.AbstractEventLoop) -> None:
    idle = getattr(loop, "idle", None)
    if idle is not None:
        await idle()


def describe_runtime(rt: Runtime) -> str:
    """The actors of ``rt`` with mailbox depth and whether each is processing; for dumps."""
    stats = rt.statistics()
    lines = [
        f"runtime: {stats.actors} actor(s), {stats.busy_actors} busy, "
        f"{stats.tasks.running} supervised task(s), {stats.timers} timer(s), "
        f"{stats.monitors} monitor(s), {stats.dead_letters.size} dead letter(s)"
    ]
    for ref in rt.actors():
        s = ref.statistics()
        lines.append(
            f"  actor {s.actor_class}({s.name or '#' + str(s.id)}): mailbox {s.mailbox_depth}"
            f"/{s.mailbox_capacity}, processed {s.processed}, timers {s.timers}, "
            f"monitors {s.monitors}, blocked senders {s.blocked_senders}"
        )
    return "\n".join(lines)

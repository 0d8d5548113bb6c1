"""What a test left behind: actors, supervised tasks, timers, monitors, asyncio tasks, threads.

Leak checks read only ``statistics()`` snapshots and public asyncio/threading calls.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bastion._core._errors import NoSuchActor
from bastion.testing._dump import describe_task

if TYPE_CHECKING:
    from bastion._core._ref import ActorRef
    from bastion._core._runtime import Runtime

__all__ = ["TimerTracker", "runtime_leaks", "task_leaks", "thread_leaks"]


def runtime_leaks(runtime: Runtime, owned: Iterable[ActorRef] = ()) -> list[str]:
    """Actors still alive (other than ``owned``), running supervised tasks, and the timers,
    monitors and links those actors still hold."""
    mine = {_incarnation(ref) for ref in owned}
    leaks: list[str] = []
    for ref in runtime.actors():
        s = ref.statistics()
        if s.id in mine:
            continue
        held = f"timers={s.timers} monitors={s.monitors} links={s.links} mailbox={s.mailbox_depth}"
        leaks.append(f"actor {s.actor_class}({s.name or '#' + str(s.id)}) still alive ({held})")
    tasks = runtime.tasks.statistics()
    if tasks.running:
        leaks.append(f"{tasks.running} supervised task(s) still running in rt.tasks")
    for ref in owned:
        if not ref.is_alive:
            continue
        h = ref.statistics()
        if h.monitors or h.timers or h.links:
            leaks.append(
                f"helper actor {h.actor_class}({h.name}) holds timers={h.timers} "
                f"monitors={h.monitors} links={h.links}"
            )
    return leaks


def _incarnation(ref: ActorRef) -> int | None:
    """The id of the incarnation ``ref`` points at now, or None."""
    try:
        return ref.statistics().id
    except NoSuchActor:
        return None


def task_leaks(loop: asyncio.AbstractEventLoop, current: asyncio.Task[Any] | None) -> list[str]:
    """Pending asyncio tasks other than ``current``."""
    pending = [t for t in asyncio.all_tasks(loop) if t is not current and not t.done()]
    return [describe_task(t) for t in sorted(pending, key=lambda t: t.get_name())]


def thread_leaks(before: set[threading.Thread], *, grace: float = 1.0) -> list[str]:
    """Threads started since ``before`` that are still alive after ``grace`` real seconds."""
    new = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    for thread in new:
        thread.join(grace / max(1, len(new)))
    return [f"thread {t.name!r} still running" for t in new if t.is_alive()]


class TimerTracker:
    """Remembers the loop timers (``call_at``/``call_later``) created while it is enabled."""

    def __init__(self) -> None:
        self._handles: weakref.WeakSet[asyncio.TimerHandle] = weakref.WeakSet()
        self.enabled = False

    def add(self, handle: asyncio.TimerHandle) -> None:
        """Record ``handle`` (called by the loop)."""
        if self.enabled:
            self._handles.add(handle)

    def leaks(self, now: float) -> list[str]:
        """Timers neither cancelled nor fired yet."""
        left = [h for h in self._handles if not h.cancelled() and h.when() > now]
        return [f"timer due at {h.when():.6f}: {h!r}" for h in sorted(left, key=lambda h: h.when())]

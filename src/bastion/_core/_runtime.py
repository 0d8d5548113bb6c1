"""The runtime: spawning, the registry, timers' clock, shutdown and quiescence."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

from bastion._core import _event_names, _events
from bastion._core._actor import Actor
from bastion._core._cell import Cell
from bastion._core._childspec import Backoff, ChildSpec, Strategy
from bastion._core._clock import Clock, LoopClock, current_task, loop_time
from bastion._core._deadletters import DeadLetters
from bastion._core._errors import RuntimeClosed, Timeout
from bastion._core._intensity import DEFAULT_INTENSITY, RestartIntensity
from bastion._core._messages import ExitReason, is_abnormal
from bastion._core._meters import KernelMeters
from bastion._core._metrics import MetricsRegistry
from bastion._core._options import RuntimeOptions
from bastion._core._ref import DEFAULT, ActorRef, UseDefault, check_timeout
from bastion._core._registry import Registry, check_name
from bastion._core._runtime_metrics import register_runtime_metrics
from bastion._core._sealed import NoPublicConstructor
from bastion._core._spawn import spawn_cell
from bastion._core._stats import RuntimeStatistics
from bastion._core._supervisor import Supervisor
from bastion._core._supervisor_handle import SupervisorHandle
from bastion._core._tasks import TaskSupervisor

__all__ = ["Runtime", "current_runtime"]

T = TypeVar("T")
_log = logging.getLogger("bastion.runtime")
_current_runtime: ContextVar[Runtime | None] = ContextVar("bastion_runtime", default=None)


def current_runtime() -> Runtime:
    """The runtime the calling code runs in. Raises ``RuntimeClosed`` if there is none."""
    runtime = _current_runtime.get()
    if runtime is None:
        raise RuntimeClosed("no Bastion runtime is running here (use bastion.open_runtime())")
    return runtime


class Runtime(metaclass=NoPublicConstructor):
    """A set of actors on one event loop. Create it with :func:`open_runtime`."""

    _obtained_from = "open one with bastion.open_runtime() or bastion.run()"

    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self.loop = asyncio.get_running_loop()
        self.clock: Clock = LoopClock(self.loop)
        #: The loop's time as the cheapest callable (kernel interface): ``time.monotonic``
        #: itself while the loop keeps asyncio's own ``time`` (no Python frame per read).
        self._now = loop_time(self.loop)
        self.call_timeout = options.call_timeout
        self.shutdown_timeout = options.shutdown_timeout
        self.mailbox_capacity = options.mailbox_capacity
        self.registry = Registry._create()
        #: This runtime's metrics (``rt.metrics.collect()``); empty when ``metrics=False``.
        self.metrics = MetricsRegistry(self.loop.time, enabled=options.metrics)
        self.meters = KernelMeters(self.metrics, self._cells_now) if options.metrics else None
        self.dead_letters = DeadLetters._create(
            options.dead_letter_capacity, self.registry, self.loop.time
        )
        assert options.max_threads is not None  # filled in by RuntimeOptions
        self.tasks = TaskSupervisor._create(self, options.max_threads)
        self._busy = 0  # actors not parked: the quiescence count (kernel interface below)
        self._late_replies = 0
        self._cells: dict[int, Cell] = {}
        self._ids = itertools.count(1)
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._closed = False
        if options.metrics:
            register_runtime_metrics(self.metrics, self)
        self._counts = dict.fromkeys(
            (
                "spawned",
                "stopped",
                "crashed",
                "restarts",
                "escalations",
                "call_timeouts",
                "mailbox_full",
            ),
            0,
        )

    # -- spawning ----------------------------------------------------------------------
    async def spawn(
        self,
        actor_class: type[Actor],
        *args: Any,
        name: str | None = None,
        mailbox_capacity: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        start_timeout: float | UseDefault = DEFAULT,
        **kwargs: Any,
    ) -> ActorRef:
        """Start an actor and return its ref once ``on_start`` succeeded.

        ``args``/``kwargs`` go to the actor's constructor. Raises :class:`StartFailed`
        (cause chained) if the constructor or ``on_start`` raises or does not finish
        within ``start_timeout``, :class:`NameTaken` if ``name`` is taken, ``TypeError``
        if ``actor_class`` is not an :class:`Actor` subclass.
        """
        return await self._spawn_cell(
            actor_class,
            args,
            kwargs,
            name=name,
            mailbox_capacity=mailbox_capacity,
            metadata=metadata,
            start_timeout=start_timeout,
            parent=None,
        )

    _spawn_cell = spawn_cell  # kernel interface: spawn linked to a supervising parent

    async def _wait_future(self, future: asyncio.Future[T], timeout: float, what: str) -> T:
        """Await ``future`` without cancelling it; :class:`Timeout` after ``timeout``.

        A wait that is not a call: a plain ``bastion.Timeout`` (not ``CallTimeout``, an
        infrastructure error a retry policy would retry).
        """
        if not future.done():
            done, _ = await asyncio.wait((future,), timeout=timeout)
            if not done:
                raise Timeout(f"timed out after {timeout}s waiting for {what}")
        return future.result()

    async def start_supervisor(
        self,
        children: Sequence[ChildSpec] = (),
        *,
        strategy: Strategy | str = Strategy.ONE_FOR_ONE,
        intensity: RestartIntensity = DEFAULT_INTENSITY,
        backoff: Backoff | None = None,
        max_children: int | None = None,
        name: str | None = None,
    ) -> SupervisorHandle:
        """Start a supervisor over ``children`` (started in order) and return its handle.

        ``intensity`` bounds its restarts (default: 3 in 5 s), ``backoff`` delays them
        (default: none). Raises ``ValueError``/``TypeError`` for invalid specs or
        options and :class:`StartFailed` if a child fails to start (the started ones are
        stopped).
        """
        ref = await self.spawn(
            Supervisor,
            children,
            name=name,
            strategy=strategy,
            intensity=intensity,
            backoff=backoff,
            max_children=max_children,
        )
        return SupervisorHandle._create(ref)

    async def start_dynamic_supervisor(
        self,
        *,
        intensity: RestartIntensity = DEFAULT_INTENSITY,
        backoff: Backoff | None = None,
        max_children: int | None = None,
        name: str | None = None,
    ) -> SupervisorHandle:
        """Start an empty one-for-one supervisor; add children with ``start_child``."""
        return await self.start_supervisor(
            (), intensity=intensity, backoff=backoff, max_children=max_children, name=name
        )

    # -- lookup ------------------------------------------------------------------------
    def ref(self, name: str) -> ActorRef:
        """A ref that resolves ``name`` on every use, following restarts."""
        check_name(name)
        registry = self.registry
        return ActorRef._create(None, lambda: registry._cell_of(name), name, registry)

    def whereis(self, name: str) -> ActorRef | None:
        """The ref of the actor registered as ``name`` now, or None."""
        return self.registry.lookup(name)

    def _in_actor(self, cell: Cell) -> bool:
        """True if the running code is ``cell``'s own task (not a task it started)."""
        return cell.task is not None and cell.task is current_task(self.loop)

    def _cells_now(self) -> list[Cell]:
        return list(self._cells.values())

    def actors(self) -> list[ActorRef]:
        """Refs to every live actor, in spawn order."""
        return [cell.ref for cell in self._cells.values()]

    # -- stopping ----------------------------------------------------------------------
    async def _stop_cell(self, cell: Cell, reason: ExitReason, timeout: float) -> None:
        """Ask ``cell`` to stop; kill it if it has not stopped within ``timeout``."""
        cell.request_stop(reason)
        if self._in_actor(cell):
            return
        finished = cell.done_future()
        done, _ = await asyncio.wait((finished,), timeout=timeout)
        if done:
            return
        cell.kill("killed")
        done, _ = await asyncio.wait((finished,), timeout=self.call_timeout)
        if not done:  # it ignores cancellation: release it without its task's help
            _log.error("%r did not stop after being killed; abandoning it", cell)
            cell.release(cell.kill_reason if cell.kill_reason is not None else "killed")

    def _forget(self, cell: Cell, reason: ExitReason) -> None:
        """Bookkeeping when a cell is released (kernel interface)."""
        self._cells.pop(cell.id, None)
        if cell.name is not None:
            self.registry._release(cell.name, cell)
        self._counts["stopped"] += 1
        metadata = {"actor": repr(cell), "reason": reason}
        if is_abnormal(reason):
            self._counts["crashed"] += 1
            _events.emit(_event_names.ACTOR_CRASH, {"count": 1}, metadata)  # logged by the bridge
        _events.emit(_event_names.ACTOR_STOP, {"count": 1}, metadata)

    async def shutdown(self, timeout: float | UseDefault = DEFAULT) -> None:
        """Stop every actor (roots in reverse spawn order), then the task supervisor.

        ``timeout`` is each actor's stop budget (default: ``shutdown_timeout``).
        """
        per_actor = self.shutdown_timeout if timeout is DEFAULT else check_timeout(timeout)
        self._closed = True
        for cell in reversed([c for c in self._cells.values() if c.parent is None]):
            budget = cell.actor.actor_stop_timeout() or 0.0  # a supervisor needs its children's
            await self._stop_cell(cell, "shutdown", max(per_actor, budget))
        for cell in reversed(list(self._cells.values())):
            await self._stop_cell(cell, "shutdown", per_actor)
        await self.tasks.shutdown(per_actor)

    @property
    def closed(self) -> bool:
        """True once shutdown began."""
        return self._closed

    # -- quiescence --------------------------------------------------------------------
    def _unpark(self) -> None:
        """An actor has work again (kernel interface): one more busy actor."""
        self._busy += 1

    def _park(self) -> None:
        """An actor waits for a message or is gone (kernel interface); idle at zero."""
        self._busy -= 1
        if self._busy == 0 and self._idle_waiters:
            self._notify_idle()

    def _note_late_reply(self) -> None:
        """A reply arrived after its caller stopped waiting (kernel interface)."""
        self._late_replies += 1

    def _notify_idle(self) -> None:
        """Wake ``wait_idle`` callers (kernel interface)."""
        waiters, self._idle_waiters = self._idle_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_idle(self, *, timeout: float | UseDefault = DEFAULT) -> None:
        """Return once every mailbox is empty and every actor waits for a message.

        Known from the runtime's own bookkeeping. Raises :class:`Timeout` (a wait, not a
        call: no ``CallTimeout``) if the actors are still busy at the deadline.
        """
        timeout = self.call_timeout if timeout is DEFAULT else check_timeout(timeout)
        deadline = self.loop.time() + timeout
        while True:
            if self._busy == 0:
                await asyncio.sleep(0)
                if self._busy == 0:
                    return
                continue
            waiter = self.loop.create_future()
            self._idle_waiters.append(waiter)
            remaining = deadline - self.loop.time()
            if remaining <= 0:
                raise Timeout(f"runtime still busy ({self._busy} actors) after {timeout}s")
            try:
                await self._wait_future(waiter, remaining, "the runtime to become idle")
            except Timeout:
                busy = [repr(c) for c in self._cells.values() if not c.parked]
                raise Timeout(f"runtime still busy after {timeout}s; busy actors: {busy}") from None

    # -- counters ----------------------------------------------------------------------
    def _note_call_timeout(self, cell: Cell, timeout: float) -> None:
        """Count and emit a call timeout (kernel interface)."""
        self._counts["call_timeouts"] += 1
        _events.emit(_event_names.CALL_TIMEOUT, {"timeout_s": timeout}, {"actor": repr(cell)})

    def _note_mailbox_full(self, cell: Cell) -> None:
        """Count and emit a refused message (kernel interface)."""
        self._counts["mailbox_full"] += 1
        _events.emit(_event_names.MAILBOX_FULL, {"capacity": cell.capacity}, {"actor": repr(cell)})

    def _note_restart(
        self, supervisor: Cell, child_id: str, reason: ExitReason = "unknown"
    ) -> None:
        """Count and emit a supervisor restart (kernel interface)."""
        self._counts["restarts"] += 1
        if self.meters is not None:
            self.meters.restart(supervisor, child_id, reason)
        _events.emit(
            _event_names.SUPERVISOR_RESTART,
            {"count": 1},
            {"supervisor": repr(supervisor), "child": child_id, "reason": reason},
        )

    def _note_escalation(
        self,
        supervisor: Cell,
        error: BaseException,
        child_id: str | None = None,
        reason: ExitReason | None = None,
    ) -> None:
        """Count and emit a supervisor giving up (kernel interface); ``reason``: the last crash."""
        self._counts["escalations"] += 1
        _events.emit(
            _event_names.SUPERVISOR_ESCALATION,
            {"count": 1},
            {"supervisor": repr(supervisor), "error": error, "child": child_id, "reason": reason},
        )

    def statistics(self) -> RuntimeStatistics:
        """A snapshot of the whole runtime."""
        return self._statistics(per_actor=True)

    def _statistics(self, *, per_actor: bool) -> RuntimeStatistics:
        """The snapshot; without ``per_actor`` the sums that walk every actor (timers,
        monitors, links) are 0 — what the runtime's metrics read at each collection."""
        cells = list(self._cells.values()) if per_actor else []
        counts = self._counts
        return RuntimeStatistics(
            actors=len(self._cells),
            busy_actors=self._busy,
            spawned=counts["spawned"],
            stopped=counts["stopped"],
            crashed=counts["crashed"],
            restarts=counts["restarts"],
            escalations=counts["escalations"],
            call_timeouts=counts["call_timeouts"],
            late_replies=self._late_replies,
            mailbox_full=counts["mailbox_full"],
            registered_names=len(self.registry),
            timers=sum(len(c.timers or ()) for c in cells),
            monitors=sum(len(c.monitors or ()) for c in cells),
            links=sum(len(c.links or ()) for c in cells) // 2,
            dead_letters=self.dead_letters.statistics(),
            tasks=self.tasks.statistics(),
        )

"""OTP supervisors: strategies, restart types, restart intensity and escalation.

A supervisor is an actor that traps exits. It starts its children in order (each
``start`` returns only after the child's ``on_start`` succeeded), restarts them by its
strategy when they stop, and stops them in reverse order with each child's shutdown
timeout. More restarts than its :class:`RestartIntensity` allows make it give up: it
stops its children and crashes with :class:`RestartIntensityExceeded`, which its own
supervisor sees as a child crash — that is escalation.

Defaults are Elixir's: 3 restarts in 5 seconds.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bastion._core._actor import Actor
from bastion._core._children import (
    ChildCounts,
    CountChildren,
    DeleteChild,
    RestartChild,
)
from bastion._core._childspec import (
    BRUTAL_KILL,
    Backoff,
    ChildSpec,
    Restart,
    Strategy,
    shutdown_budget,
)
from bastion._core._errors import (
    NameTaken,
    RestartIntensityExceeded,
    StartFailed,
    SupervisorError,
)
from bastion._core._intensity import DEFAULT_INTENSITY, RestartIntensity
from bastion._core._messages import Exit, ExitReason
from bastion._core._placement import place
from bastion._core._ref import DEFAULT, ActorRef
from bastion._core._stats import SupervisorStatistics
from bastion._core._supervisor_handle import (
    ChildInfo,
    SupervisorHandle,
    _info,
    _StartChild,
    _TerminateChild,
    _WhichChildren,
)

if TYPE_CHECKING:
    from bastion._core._cell import Cell

__all__ = ["ChildInfo", "Supervisor", "SupervisorHandle"]  # the handle lives in _supervisor_handle


@dataclass(slots=True, eq=False)
class _Child:
    spec: ChildSpec
    cell: Cell | None = None
    restart_times: deque[float] = field(default_factory=deque)
    last_exit: ExitReason = "normal"  # why it last stopped (the restart's reason, for metrics)
    terminated: bool = False  # by terminate_child: down until restart_child


@dataclass(frozen=True, slots=True)
class _RestartChildren:
    ids: tuple[str, ...]


class Supervisor(Actor):
    """Supervises child actors. Start one with ``runtime.start_supervisor``."""

    trap_exits = True

    def __init__(
        self,
        children: Sequence[ChildSpec] = (),
        *,
        strategy: Strategy | str = Strategy.ONE_FOR_ONE,
        intensity: RestartIntensity = DEFAULT_INTENSITY,
        backoff: Backoff | None = None,
        max_children: int | None = None,
    ) -> None:
        self.strategy = _check_strategy(strategy)
        if not isinstance(intensity, RestartIntensity):
            raise TypeError(f"intensity must be a bastion.RestartIntensity, got {intensity!r}")
        if backoff is not None and not isinstance(backoff, Backoff):
            raise TypeError(f"backoff must be a bastion.Backoff, got {backoff!r}")
        self.intensity = intensity
        self.max_restarts = intensity.max_restarts
        self.max_seconds = intensity.max_seconds
        self.backoff = backoff
        self.max_children = max_children
        self._children: list[_Child] = []
        self._by_id: dict[str, _Child] = {}
        self._by_cell: dict[Cell, _Child] = {}
        self._restart_times: deque[float] = deque()
        self._restarts = 0
        self._pending: set[str] = set()
        for spec in children:
            self._add(spec)

    # -- lifecycle ---------------------------------------------------------------------
    async def on_start(self) -> None:
        """Start every child in order; on a failure stop the started ones and fail."""
        for child in self._children:
            try:
                await self._start(child)
            except StartFailed:
                await self._terminate_all()
                raise

    def actor_stop_timeout(self) -> float:
        """Enough for every child's shutdown timeout plus a kill each."""
        return sum(shutdown_budget(c.spec) for c in self._children) + self.runtime.call_timeout

    async def on_stop(self, reason: ExitReason) -> None:
        """Stop every child in reverse start order, each within its shutdown timeout."""
        await self._terminate_all()

    # -- messages ----------------------------------------------------------------------
    async def handle_call(self, message: Any) -> Any:
        """Dynamic operations from :class:`SupervisorHandle`. Failures are returned."""
        if isinstance(message, _StartChild):
            return await self._start_child(message.spec)
        if isinstance(message, _TerminateChild):
            return await self._terminate_child(message.id)
        if isinstance(message, _WhichChildren):
            return [_info(child) for child in self._children]
        if isinstance(message, RestartChild):
            return await self._restart_child(message.id)
        if isinstance(message, DeleteChild):
            return self._delete_child(message.id)
        if isinstance(message, CountChildren):
            return self._count_children()
        raise SupervisorError(f"unknown supervisor request {message!r}")

    async def handle_info(self, message: Any) -> None:
        """Exit notices of children, and delayed (backoff) restarts."""
        if isinstance(message, Exit):
            cell = message.ref._resolve_or_none()
            child = self._by_cell.pop(cell, None) if cell is not None else None
            if child is not None:
                await self._child_exited(child, message.reason)
            elif cell is not None and cell is self._bastion_cell.parent:
                self.stop("shutdown")
        elif isinstance(message, _RestartChildren):
            self._pending.difference_update(message.ids)
            await self._restart(message.ids)

    # -- restart logic -------------------------------------------------------------------
    async def _child_exited(self, child: _Child, reason: ExitReason) -> None:
        child.cell = None
        child.last_exit = reason
        if not child.spec.restart.applies(reason):
            if child.spec.restart is Restart.TEMPORARY:
                self._remove(child)
            return
        self._count_restart(child)
        affected = self._affected(child)
        for other in reversed(affected):
            if other is not child and other.cell is not None:
                await self._terminate(other)
        ids = tuple(c.spec.id for c in affected)
        if self.backoff is not None:
            self._pending.update(ids)
            self.send_after(self.backoff.delay(len(child.restart_times)), _RestartChildren(ids))
        else:
            await self._restart(ids)

    def _affected(self, child: _Child) -> list[_Child]:
        if self.strategy is Strategy.ONE_FOR_ONE:
            return [child]
        if self.strategy is Strategy.ONE_FOR_ALL:
            return list(self._children)
        return self._children[self._children.index(child) :]

    def _count_restart(self, child: _Child) -> None:
        now = self.runtime.clock.now()
        horizon = now - self.max_seconds
        for times in (self._restart_times, child.restart_times):
            times.append(now)
            while times and times[0] <= horizon:
                times.popleft()
        if len(self._restart_times) > self.max_restarts:
            error = RestartIntensityExceeded(
                f"{self._bastion_cell!r}: more than {self.max_restarts} restarts in "
                f"{self.max_seconds}s (last: child {child.spec.id!r})"
            )
            self.runtime._note_escalation(self._bastion_cell, error, child.spec.id, child.last_exit)
            raise error

    async def _restart(self, ids: Iterable[str]) -> None:
        wanted = set(ids)
        for child in [c for c in self._children if c.spec.id in wanted]:
            if child.cell is not None or child.terminated:
                continue
            if child.spec.restart is Restart.TEMPORARY:
                self._remove(child)
                continue
            try:
                await self._start(child)
            except StartFailed:
                self._count_restart(child)
                retry = tuple(c.spec.id for c in self._children if c.spec.id in wanted)
                self._pending.update(retry)
                delay = self.backoff.delay(len(child.restart_times)) if self.backoff else 0.0
                self.send_after(delay, _RestartChildren(retry))
                return
            self._restarts += 1
            self.runtime._note_restart(self._bastion_cell, child.spec.id, child.last_exit)

    # -- children ------------------------------------------------------------------------
    def _add(self, spec: ChildSpec) -> _Child:
        if not isinstance(spec, ChildSpec):
            raise TypeError(f"children must be ChildSpec instances, got {spec!r}")
        if spec.id in self._by_id:
            raise ValueError(f"duplicate child id {spec.id!r}")
        if spec.name is not None and any(c.spec.name == spec.name for c in self._children):
            raise ValueError(f"duplicate child name {spec.name!r}")
        if self.max_children is not None and len(self._children) >= self.max_children:
            raise SupervisorError(f"this supervisor allows at most {self.max_children} children")
        child = _Child(spec)
        self._children.append(child)
        self._by_id[spec.id] = child
        return child

    def _remove(self, child: _Child) -> None:
        self._children.remove(child)
        del self._by_id[child.spec.id]

    async def _start(self, child: _Child) -> None:
        spec = child.spec
        actor, args, kwargs = place(spec.placement, spec.actor, spec.args, spec.kwargs)
        ref = await self.runtime._spawn_cell(
            actor,
            args,
            kwargs,
            name=spec.name,
            mailbox_capacity=spec.mailbox_capacity,
            metadata=spec.metadata,
            start_timeout=DEFAULT,
            parent=self._bastion_cell,
        )
        cell = ref._resolve()
        child.cell = cell
        self._by_cell[cell] = child

    async def _start_child(self, spec: ChildSpec) -> ActorRef | BaseException:
        try:
            child = self._add(spec)
        except (SupervisorError, ValueError, TypeError) as exc:
            return exc  # the caller's error, raised in the caller; the supervisor keeps running
        try:
            await self._start(child)
        except (StartFailed, NameTaken) as exc:  # the caller's problem, not a supervisor crash
            self._remove(child)
            return exc
        assert child.cell is not None
        return child.cell.ref

    async def _terminate_child(self, child_id: str) -> bool:
        child = self._by_id.get(child_id)
        if child is None:
            return False
        if child.cell is not None:
            await self._terminate(child)
        if child.spec.restart is Restart.TEMPORARY:
            self._remove(child)  # as in OTP: a temporary child's spec is not kept
        else:
            child.terminated = True
        return True

    async def _restart_child(self, child_id: str) -> ActorRef | BaseException:
        child = self._by_id.get(child_id)
        if child is None:
            return ValueError(f"no child {child_id!r} in {self._bastion_cell!r}")
        if child.cell is not None:
            return SupervisorError(f"child {child_id!r} is running; terminate_child it first")
        try:
            await self._start(child)
        except (StartFailed, NameTaken) as exc:
            return exc
        child.terminated = False
        cell = self._child_cell(child_id)
        assert cell is not None
        return cell.ref

    def _delete_child(self, child_id: str) -> bool | BaseException:
        child = self._by_id.get(child_id)
        if child is None:
            return False
        if child.cell is not None:
            return SupervisorError(f"child {child_id!r} is running; terminate_child it first")
        self._remove(child)
        self._pending.discard(child_id)
        return True

    def _count_children(self) -> ChildCounts:
        supervisors = sum(1 for c in self._children if issubclass(c.spec.actor, Supervisor))
        return ChildCounts(
            specs=len(self._children),
            active=sum(1 for c in self._children if c.cell is not None and c.cell.alive),
            supervisors=supervisors,
            workers=len(self._children) - supervisors,
        )

    async def _terminate(self, child: _Child) -> None:
        cell = child.cell
        if cell is None:
            return
        child.cell = None
        self._by_cell.pop(cell, None)
        shutdown = child.spec.shutdown
        if shutdown == BRUTAL_KILL:
            cell.kill_brutally("killed")
            done, _ = await asyncio.wait((cell.done_future(),), timeout=self.runtime.call_timeout)
            if not done:  # it ignores cancellation: release it without its task's help
                cell.release("killed")
        else:
            await self.runtime._stop_cell(cell, "shutdown", shutdown)

    async def _terminate_all(self) -> None:
        for child in reversed(self._children):
            await self._terminate(child)

    def _child_cell(self, child_id: str) -> Cell | None:
        """The current incarnation of a child (kernel interface)."""
        child = self._by_id.get(child_id)
        return child.cell if child is not None else None

    def statistics(self) -> SupervisorStatistics:
        """A snapshot of children and restarts."""
        horizon = self.runtime.clock.now() - self.max_seconds
        return SupervisorStatistics(
            strategy=self.strategy.value,
            children=len(self._children),
            alive_children=sum(1 for c in self._children if c.cell is not None),
            restarts=self._restarts,
            restarts_in_window=sum(1 for t in self._restart_times if t > horizon),
            max_restarts=self.max_restarts,
            max_seconds=self.max_seconds,
            pending_restarts=len(self._pending),
        )


def _check_strategy(strategy: Strategy | str) -> Strategy:
    try:
        return Strategy(strategy)
    except ValueError:
        choices = ", ".join(s.value for s in Strategy)
        raise ValueError(f"strategy must be one of {choices}, got {strategy!r}") from None

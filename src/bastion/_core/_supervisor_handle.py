"""What ``runtime.start_supervisor`` returns: :class:`SupervisorHandle`, and its requests.

The handle talks to its :class:`~bastion._core._supervisor.Supervisor` by calls; the
request messages and :class:`ChildInfo` (the answer to ``which_children``) live here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from bastion._core._children import ChildManagement, check_child_id
from bastion._core._childspec import ChildSpec, Restart
from bastion._core._errors import ActorNotAlive
from bastion._core._ref import DEFAULT, ActorRef, UseDefault
from bastion._core._sealed import NoPublicConstructor
from bastion._core._stats import SupervisorStatistics

if TYPE_CHECKING:
    from bastion._core._cell import Cell
    from bastion._core._supervisor import Supervisor, _Child

__all__ = ["ChildInfo", "SupervisorHandle"]


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """One child as reported by ``which_children``."""

    id: str
    ref: ActorRef | None
    actor_class: str
    restart: Restart
    alive: bool


@dataclass(frozen=True, slots=True)
class _StartChild:
    spec: ChildSpec


@dataclass(frozen=True, slots=True)
class _TerminateChild:
    id: str


class _WhichChildren:
    pass


class SupervisorHandle(ChildManagement, metaclass=NoPublicConstructor):
    """What ``runtime.start_supervisor`` returns: the supervisor's ref plus operations.

    Child management by id (``restart_child``, ``delete_child``, ``count_children``)
    comes from :class:`ChildManagement`.
    """

    __slots__ = ("ref",)
    _obtained_from = "rt.start_supervisor() and rt.start_dynamic_supervisor() return one"

    def __init__(self, ref: ActorRef) -> None:
        self.ref = ref

    def _supervisor(self) -> Supervisor | None:
        cell = self.ref._resolve_or_none()
        if cell is None or not cell.alive:
            return None
        return cast("Supervisor", cell.actor)

    async def start_child(
        self, spec: ChildSpec, *, timeout: float | UseDefault = DEFAULT
    ) -> ActorRef:
        """Add and start a child; returns its ref.

        Raises ``TypeError``/``ValueError`` for a bad spec or a duplicate id or name,
        ``SupervisorError`` when ``max_children`` are running, ``StartFailed`` if the
        child fails to start and ``NameTaken`` if another actor holds its name; the
        supervisor and its other children are unaffected.
        """
        if not isinstance(spec, ChildSpec):
            raise TypeError(f"start_child() takes a ChildSpec, got {spec!r}")
        result = await self.ref.call(_StartChild(spec), timeout=timeout)
        if isinstance(result, BaseException):
            raise result
        assert isinstance(result, ActorRef)
        return result

    async def terminate_child(
        self, child_id: str, *, timeout: float | UseDefault = DEFAULT
    ) -> bool:
        """Stop a child and keep its spec, as OTP does: it stays down until ``restart_child``.

        A ``TEMPORARY`` child's spec is removed. Returns False if there is no such child.
        """
        result = await self.ref.call(_TerminateChild(check_child_id(child_id)), timeout=timeout)
        return bool(result)

    async def which_children(self, *, timeout: float | UseDefault = DEFAULT) -> list[ChildInfo]:
        """Every child, in start order."""
        result: list[ChildInfo] = await self.ref.call(_WhichChildren(), timeout=timeout)
        return result

    def child(self, child_id: str) -> ActorRef:
        """A ref that resolves to the child's current incarnation on every use."""

        def resolve() -> Cell | None:
            supervisor = self._supervisor()
            return supervisor._child_cell(child_id) if supervisor is not None else None

        return ActorRef._create(None, resolve, child_id, self.ref)

    def statistics(self) -> SupervisorStatistics:
        """A snapshot of the supervisor. Raises ``ActorNotAlive`` if it is not running."""
        supervisor = self._supervisor()
        if supervisor is None:
            raise ActorNotAlive(f"supervisor {self.ref!r} is not running")
        return supervisor.statistics()

    async def stop(self, *, timeout: float | UseDefault = DEFAULT) -> None:
        """Stop the supervisor and, before it, all its children.

        The default timeout is enough for every child's shutdown timeout.
        """
        if timeout is DEFAULT:
            supervisor = self._supervisor()
            if supervisor is None:
                return
            timeout = supervisor.actor_stop_timeout()
        await self.ref.stop(timeout=timeout)


def _info(child: _Child) -> ChildInfo:
    cell = child.cell
    return ChildInfo(
        id=child.spec.id,
        ref=cell.ref if cell is not None else None,
        actor_class=child.spec.actor.__qualname__,
        restart=child.spec.restart,
        alive=cell is not None and cell.alive,
    )

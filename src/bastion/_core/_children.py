"""Supervisor child management by id: OTP's ``restart_child``, ``delete_child`` and
``count_children``, as the requests a supervisor handles and the handle's verbs.

The supervisor side (what each request does to the child table) lives in
``_supervisor.py``; :class:`ChildManagement` is mixed into ``SupervisorHandle``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bastion._core._ref import DEFAULT, ActorRef, UseDefault

__all__ = [
    "ChildCounts",
    "ChildManagement",
    "CountChildren",
    "DeleteChild",
    "RestartChild",
    "check_child_id",
]


@dataclass(frozen=True, slots=True)
class ChildCounts:
    """What ``count_children`` reports (OTP's ``count_children``)."""

    specs: int  #: child specs held, running or not
    active: int  #: children running now
    supervisors: int  #: specs whose actor is a supervisor
    workers: int  #: the other specs


@dataclass(frozen=True, slots=True)
class RestartChild:
    """Request: start the stopped child ``id`` again."""

    id: str


@dataclass(frozen=True, slots=True)
class DeleteChild:
    """Request: forget the stopped child ``id``."""

    id: str


@dataclass(frozen=True, slots=True)
class CountChildren:
    """Request: a :class:`ChildCounts`."""


def check_child_id(child_id: object) -> str:
    """Return ``child_id`` or raise ``TypeError`` unless it is a string."""
    if not isinstance(child_id, str):
        raise TypeError(f"child ids are strings, got {type(child_id).__name__}: {child_id!r}")
    return child_id


class ChildManagement:
    """The child-management verbs of ``SupervisorHandle`` (all are calls to the supervisor)."""

    __slots__ = ()

    ref: ActorRef

    async def restart_child(
        self, child_id: str, *, timeout: float | UseDefault = DEFAULT
    ) -> ActorRef:
        """Start a child stopped by ``terminate_child`` again; returns its new ref.

        Raises ``ValueError`` if there is no such child, ``SupervisorError`` if it is
        running, and ``StartFailed``/``NameTaken`` if it cannot start (it stays down).
        """
        result = await self.ref.call(RestartChild(check_child_id(child_id)), timeout=timeout)
        if isinstance(result, BaseException):
            raise result
        assert isinstance(result, ActorRef)
        return result

    async def delete_child(self, child_id: str, *, timeout: float | UseDefault = DEFAULT) -> bool:
        """Remove the spec of a stopped child. Returns False if there is no such child.

        Raises ``SupervisorError`` if the child is running (``terminate_child`` it first).
        """
        result = await self.ref.call(DeleteChild(check_child_id(child_id)), timeout=timeout)
        if isinstance(result, BaseException):
            raise result
        return bool(result)

    async def count_children(self, *, timeout: float | UseDefault = DEFAULT) -> ChildCounts:
        """How many specs, running children, supervisors and workers the supervisor has."""
        result: ChildCounts = await self.ref.call(CountChildren(), timeout=timeout)
        return result

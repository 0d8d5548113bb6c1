"""Child specifications, strategies and restart types (``Backoff`` is in ``_backoff``)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from bastion._core._actor import Actor
from bastion._core._backoff import Backoff
from bastion._core._durations import positive_seconds
from bastion._core._messages import ExitReason, is_abnormal
from bastion._core._placement import Placement

__all__ = ["BRUTAL_KILL", "Backoff", "ChildSpec", "Restart", "Strategy", "shutdown_budget"]

#: ``ChildSpec(shutdown=BRUTAL_KILL)``: stop the child at once, without running ``on_stop``.
BRUTAL_KILL: Final = "brutal_kill"


class Strategy(enum.StrEnum):
    """Which children a supervisor restarts when one fails."""

    ONE_FOR_ONE = "one_for_one"  #: only the failed child
    ONE_FOR_ALL = "one_for_all"  #: every child
    REST_FOR_ONE = "rest_for_one"  #: the failed child and every child started after it


class Restart(enum.StrEnum):
    """When a stopped child is restarted."""

    PERMANENT = "permanent"  #: always
    TRANSIENT = "transient"  #: only after an abnormal exit (a crash)
    TEMPORARY = "temporary"  #: never; the child is removed when it stops

    def applies(self, reason: ExitReason) -> bool:
        """Whether a child with this restart type is restarted after ``reason``."""
        if self is Restart.PERMANENT:
            return True
        if self is Restart.TRANSIENT:
            return is_abnormal(reason)
        return False


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How a supervisor starts, restarts and stops one child.

    ``shutdown`` is the seconds a child gets to stop gracefully before it is killed, or
    ``"brutal_kill"`` to kill it at once without running its ``on_stop`` (OTP's
    ``brutal_kill``). ``placement`` runs the child elsewhere behind a local stand-in, placed
    again at every restart (``bastion.ray``). Invalid specs raise
    ``ValueError``/``TypeError`` when constructed.
    """

    id: str
    actor: type[Actor]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    restart: Restart = Restart.PERMANENT
    shutdown: float | Literal["brutal_kill"] = 5.0
    mailbox_capacity: int | None = None
    metadata: Mapping[str, Any] | None = None
    placement: Placement | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"child id must be a non-empty string, got {self.id!r}")
        if not (isinstance(self.actor, type) and issubclass(self.actor, Actor)):
            raise TypeError(
                f"child {self.id!r}: actor must be a bastion.Actor subclass, got {self.actor!r}"
            )
        if not isinstance(self.args, tuple):
            raise TypeError(f"child {self.id!r}: args must be a tuple, got {self.args!r}")
        try:
            object.__setattr__(self, "restart", Restart(self.restart))
        except ValueError:
            choices = ", ".join(r.value for r in Restart)
            raise ValueError(
                f"child {self.id!r}: restart must be one of {choices}, got {self.restart!r}"
            ) from None
        if self.placement is not None and not isinstance(self.placement, Placement):
            raise TypeError(
                f"child {self.id!r}: placement must have a place() method, got {self.placement!r}"
            )
        if self.shutdown != BRUTAL_KILL:  # any other string is a TypeError, as for durations
            positive_seconds(f"child {self.id!r}: shutdown (or 'brutal_kill')", self.shutdown)


def shutdown_budget(spec: ChildSpec) -> float:
    """Seconds a supervisor may spend stopping this child gracefully (0 for brutal_kill)."""
    return 0.0 if spec.shutdown == BRUTAL_KILL else float(spec.shutdown)

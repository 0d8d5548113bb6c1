"""Notices the kernel delivers to ``handle_info`` and the exit reasons they carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from bastion._core._ref import ActorRef

__all__ = ["Down", "Exit", "ExitReason", "MonitorRef", "is_abnormal"]

#: Why an actor stopped: ``"normal"`` (it or its owner asked), ``"shutdown"`` (its
#: supervisor or the runtime stopped it), ``"killed"`` (forced after its shutdown
#: timeout), or the exception that crashed it.
ExitReason: TypeAlias = str | BaseException


def is_abnormal(reason: ExitReason) -> bool:
    """True unless ``reason`` is ``"normal"`` or ``"shutdown"``."""
    return reason != "normal" and reason != "shutdown"


@dataclass(frozen=True, slots=True, eq=False)
class MonitorRef:
    """The handle returned by ``Actor.monitor``; pass it to ``Actor.demonitor``."""

    target: ActorRef

    def __repr__(self) -> str:
        return f"<MonitorRef {id(self):#x} on {self.target!r}>"


@dataclass(frozen=True, slots=True)
class Down:
    """A monitored actor stopped. Delivered once per monitor, to ``handle_info``."""

    monitor: MonitorRef
    ref: ActorRef
    reason: ExitReason


@dataclass(frozen=True, slots=True)
class Exit:
    """A linked actor stopped. Delivered to ``handle_info`` of actors that trap exits."""

    ref: ActorRef
    reason: ExitReason

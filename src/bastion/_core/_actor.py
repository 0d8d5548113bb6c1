"""The ``Actor`` base class: handlers and the framework attributes an actor sees."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, ClassVar

from bastion._core._messages import ExitReason, MonitorRef

if TYPE_CHECKING:
    from bastion._core._cell import Cell
    from bastion._core._ref import ActorRef
    from bastion._core._runtime import Runtime
    from bastion._core._timers import Timer

__all__ = ["Actor"]


class Actor:
    """Base class of every actor.

    Subclasses override any of the handlers below; each may be a plain or an ``async``
    method. The runtime constructs the actor (``__init__``), then runs ``on_start`` in
    the actor's own task; ``spawn`` returns only after ``on_start`` succeeded.

    Failure routing (the one place it happens is the actor loop): a handler that raises
    :class:`bastion.ExpectedError` returns it to the caller and the actor keeps running;
    any other exception crashes the actor, callers get :class:`bastion.ActorCrashed`
    with the exception as ``__cause__``, and its supervisor decides what happens next.
    """

    #: When true, exits of linked actors arrive as :class:`bastion.Exit` in
    #: ``handle_info`` instead of stopping this actor.
    trap_exits: ClassVar[bool] = False

    _bastion_cell: Cell

    # -- handlers ------------------------------------------------------------------
    def on_start(self) -> Awaitable[None] | None:
        """Called once in the actor's task before any message; raising fails the spawn."""
        return None

    def on_stop(self, reason: ExitReason) -> Awaitable[None] | None:
        """Called when the actor stops for any reason except a failed start."""
        return None

    def handle_call(self, message: Any) -> Any:
        """Answer a ``call``; the return value is the reply."""
        raise NotImplementedError(f"{type(self).__name__} does not handle calls")

    def handle_cast(self, message: Any) -> Awaitable[None] | None:
        """Handle a ``cast`` (no reply)."""
        raise NotImplementedError(f"{type(self).__name__} does not handle casts")

    def handle_info(self, message: Any) -> Awaitable[None] | None:
        """Handle timer messages, ``Down`` and ``Exit`` notices. Ignores them by default."""
        return None

    def actor_stop_timeout(self) -> float | None:
        """Seconds ``on_stop`` may take; ``None`` means the runtime's ``call_timeout``."""
        return None

    # -- framework attributes --------------------------------------------------------
    @property
    def ref(self) -> ActorRef:
        """This incarnation's reference."""
        return self._bastion_cell.ref

    @property
    def name(self) -> str | None:
        """The registered name, if any."""
        return self._bastion_cell.name

    @property
    def runtime(self) -> Runtime:
        """The runtime this actor runs in."""
        return self._bastion_cell.runtime

    def send_after(self, delay: float, message: Any) -> Timer:
        """Deliver ``message`` to ``handle_info`` after ``delay`` seconds (runtime clock)."""
        return self._bastion_cell.start_timer(delay, message, periodic=False)

    def send_interval(self, period: float, message: Any) -> Timer:
        """Deliver ``message`` to ``handle_info`` every ``period`` seconds until cancelled."""
        return self._bastion_cell.start_timer(period, message, periodic=True)

    def monitor(self, target: ActorRef) -> MonitorRef:
        """Receive one ``Down`` notice when ``target`` stops (at once if it is dead)."""
        return self._bastion_cell.monitor(target)

    def demonitor(self, monitor: MonitorRef) -> bool:
        """Cancel a monitor. Returns False if it had fired or was cancelled already."""
        return self._bastion_cell.demonitor(monitor)

    def link(self, target: ActorRef) -> None:
        """Link to ``target``: an abnormal exit of either side reaches the other."""
        self._bastion_cell.link(target)

    def unlink(self, target: ActorRef) -> None:
        """Remove a link made with :meth:`link`."""
        self._bastion_cell.unlink(target)

    def stop(self, reason: ExitReason = "normal") -> None:
        """Stop this actor once the current handler returns."""
        self._bastion_cell.request_stop(reason)

"""Actor timers: ``send_after`` and ``send_interval``, on the runtime clock."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from bastion._core import _carry
from bastion._core._durations import non_negative_seconds
from bastion._core._sealed import NoPublicConstructor

if TYPE_CHECKING:
    from bastion._core._cell import Cell

__all__ = ["Timer", "check_delay"]


def check_delay(delay: float, what: str = "delay") -> float:
    """Return ``delay`` as float seconds; it must be finite and >= 0 (see ``_durations``)."""
    return non_negative_seconds(what, delay)


class Timer(metaclass=NoPublicConstructor):
    """A pending timer message. ``cancel()`` stops it; timers die with their actor."""

    __slots__ = ("_carried", "_cell", "_handle", "_message", "_period", "_when")
    _obtained_from = "actors start timers with self.send_after() or self.send_interval()"

    def __init__(self, cell: Cell, delay: float, message: Any, *, periodic: bool) -> None:
        self._cell = cell
        self._message = message
        self._carried = _carry.capture()  # the context the timer was set in
        self._period = delay if periodic else None
        self._when = cell.runtime.clock.now() + delay
        self._handle: asyncio.TimerHandle | None = cell.runtime.clock.call_at(
            self._when, self._fire
        )

    @property
    def active(self) -> bool:
        """True until the timer fired (one-shot) or was cancelled."""
        return self._handle is not None

    @property
    def periodic(self) -> bool:
        """True for ``send_interval`` timers."""
        return self._period is not None

    def remaining(self) -> float | None:
        """Seconds until the timer next fires (Erlang's ``read_timer``); None if inactive.

        Read it before :meth:`cancel` to learn how much time was left.
        """
        if self._handle is None:
            return None
        return max(0.0, self._when - self._cell.runtime.clock.now())

    def cancel(self) -> bool:
        """Cancel the timer. Returns False if it was not active."""
        handle = self._handle
        if handle is None:
            return False
        handle.cancel()
        self._handle = None
        if self._cell.timers is not None:
            self._cell.timers.discard(self)
        return True

    def _fire(self) -> None:
        cell = self._cell
        if self._period is None:
            self._handle = None
            if cell.timers is not None:
                cell.timers.discard(self)
        else:
            self._when += self._period
            self._handle = cell.runtime.clock.call_at(self._when, self._fire)
        cell.deliver_timer(self._message, self._carried)

    def __repr__(self) -> str:
        kind = "interval" if self._period is not None else "once"
        return f"<Timer {kind} {self._message!r} active={self.active}>"

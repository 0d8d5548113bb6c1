"""Message context: what travels with a message from its sender into its handler.

An actor's task is created once and lives for many messages, so ``contextvars`` set by
a sender never reach the handler (and a dormant actor's task would keep the context of
the first caller that woke it). The kernel therefore carries context *inside each
envelope*. It knows nothing about what is carried: an upper layer (the error context of
``bastion.resilience``, the OpenTelemetry instrumentation) registers a :class:`Carrier`:

* ``capture()`` runs in the sender, at send time, and returns an opaque value;
* ``enter(value, cell, kind, message)`` runs in the actor's task just before the
  handler and makes ``value`` current; it returns a token for ``leave``;
* ``leave(token, error)`` runs right after the handler if it raised (``error``), or if
  it returned and ``enter`` gave a token other than ``None`` (``error`` is ``None``);
* ``reset()`` clears the carried context in the actor's task: when the task starts
  (it inherited whoever created it), before a message that carries nothing, and before
  ``on_stop``. So a carrier may leave its value current after a handler (an idle actor
  runs no code; consecutive messages of one operation then cost one identity test)
  without it ever being current for another message or for ``on_stop``.

An envelope carries ``None`` or the captured value; the actor loop passes it to the
carrier in effect (several registered carriers act as one composite). A message sent
just before a carrier is registered or removed may reach a different carrier than the
one that captured it, so ``enter`` ignores a value that is not its own (a type test).
Cost: with no carrier registered a send costs one test of :data:`registered` and
carries ``None``; with one (the error context) and nothing to carry, one C-level
``ContextVar.get``. The actor loop pays one identity test per message while nothing is
carried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bastion._core._cell import Cell

__all__ = [
    "Carrier",
    "Snapshot",
    "active",
    "capture",
    "carriers",
    "current",
    "leave_failed",
    "register",
    "registered",
    "reset",
    "unregister",
]

#: What an envelope carries: the value ``capture`` returned (``None``: nothing).
Snapshot = Any


class Carrier(Protocol):
    """One kind of context carried from a message's sender into its handler."""

    def capture(self) -> Any:
        """The value to carry, read in the sender (``None``: nothing to carry)."""

    def enter(self, value: Any, cell: Cell, kind: int, message: Any) -> Any:
        """Make ``value`` current in the actor's task; return a token for :meth:`leave`.

        ``value`` may have been captured by another carrier (around a ``register``):
        treat a value that is not of your type as ``None``.
        """

    def leave(self, token: Any, error: BaseException | None) -> None:
        """The handler finished; ``error`` is what it raised (``None`` if it returned)."""

    def reset(self) -> None:
        """Clear this context in the actor's task (no message is being handled)."""


_carriers: tuple[Carrier, ...] = ()


class _Nothing:
    """The carrier in effect when none is registered (its ``enter`` is never reached)."""

    __slots__ = ()

    def capture(self) -> None:
        return None

    def enter(self, value: Any, cell: Cell, kind: int, message: Any) -> None:
        return None

    def leave(self, token: Any, error: BaseException | None) -> None:
        return None

    def reset(self) -> None:
        return None


class _All:
    """Several carriers as one: captures a tuple, enters in order, leaves in reverse."""

    __slots__ = ("carriers",)

    def __init__(self, carriers: tuple[Carrier, ...]) -> None:
        self.carriers = carriers

    def capture(self) -> tuple[Any, ...] | None:
        values = tuple(carrier.capture() for carrier in self.carriers)
        return None if all(value is None for value in values) else values

    def enter(self, value: Any, cell: Cell, kind: int, message: Any) -> Any:
        count = len(self.carriers)
        if type(value) is not tuple or len(value) != count:  # captured before a (un)register
            value = (value,) * count  # each carrier ignores a value that is not its own
        tokens = []
        for index, carrier in enumerate(self.carriers):
            tokens.append(carrier.enter(value[index], cell, kind, message))
        return tokens

    def leave(self, token: list[Any], error: BaseException | None) -> None:
        for index in range(len(self.carriers) - 1, -1, -1):
            one = token[index]
            if one is not None or error is not None:
                self.carriers[index].leave(one, error)

    def reset(self) -> None:
        for carrier in self.carriers:
            carrier.reset()


#: The carrier (or composite) whose ``enter``/``leave`` the actor loop calls.
active: Carrier = _Nothing()
#: The single registered carrier's C-level reader of the value current in the running
#: task (its ``current`` attribute), or ``None``. When the carried value *is* what is
#: current, the actor loop skips ``enter`` (consecutive messages of one operation), and
#: calls ``leave`` only if the handler raised (:func:`leave_failed`).
current: Callable[[], Any] | None = None
#: Read the carried context in the sender (``None``: nothing to carry). The registered
#: carrier's own ``capture`` (a C-level ``ContextVar.get`` for the error context), or
#: ``NoneType`` (calling it returns ``None`` without a Python frame) when none is.
capture: Callable[[], Any] = type(None)
#: True while a carrier is registered. Senders test it before calling :data:`capture`
#: (``capture() if registered else None``): with none registered a send makes no call.
registered = False


def _rebuild() -> None:
    global active, capture, current, registered
    current = None
    registered = bool(_carriers)
    if not _carriers:
        active, capture = _Nothing(), type(None)
    elif len(_carriers) == 1:
        active = _carriers[0]
        capture = active.capture
        current = getattr(active, "current", None)
    else:
        active = _All(_carriers)
        capture = active.capture


def leave_failed(entered: Carrier | None, token: Any, error: BaseException) -> None:
    """The handler raised: tell the carrier that entered (or would have: ``active``)."""
    (active if entered is None else entered).leave(token, error)


def register(carrier: Carrier) -> None:
    """Carry ``carrier``'s context with every message from now on (idempotent)."""
    global _carriers
    if carrier not in _carriers:
        _carriers = (*_carriers, carrier)
        _rebuild()


def unregister(carrier: Carrier) -> bool:
    """Stop carrying ``carrier``'s context. Returns ``False`` if it was not registered."""
    global _carriers
    if carrier not in _carriers:
        return False
    _carriers = tuple(c for c in _carriers if c is not carrier)
    _rebuild()
    return True


def carriers() -> tuple[Carrier, ...]:
    """The registered carriers, in registration order."""
    return _carriers


def reset() -> None:
    """Clear every carried context in the running actor task (kernel use)."""
    for carrier in _carriers:
        carrier.reset()

"""The error context travels with every actor message (a kernel carrier).

Registered when :mod:`bastion.resilience` is imported (no scope can exist before). The
sender's :class:`~bastion.resilience.ErrorContext` is read at send time (one
``ContextVar.get``) and made current before the handler runs, so a handler sees the
context of the message it handles, never the one of whoever woke or spawned the actor.
Consecutive messages of one operation cost one identity test; the kernel resets the
context (``reset``) before a message that carries none and before ``on_stop``, so it is
never current for another message (an idle actor keeps it but runs no code). A handler that
raises gets the context attached (``error_context_of``), so crash, restart and
escalation reports can name the request that caused them.
"""

from __future__ import annotations

from typing import Any, Final

from bastion._core import _carry
from bastion._core._cell import Cell
from bastion.resilience._context import (
    ErrorContext,
    _current,
    attach_context,
    current_context,
    error_context_of,
)
from bastion.telemetry._logging import set_context_source

__all__ = ["ERROR_CONTEXT_CARRIER", "ErrorContextCarrier"]


class ErrorContextCarrier:
    """Carries the error context from a message's sender into its handler."""

    __slots__ = ()

    #: The sender's current error context (``None`` outside any scope). The C-level
    #: ``ContextVar.get`` itself: it does not bind, so a send pays no Python frame.
    capture: Final = _current.get
    #: What is current in the running task (lets the kernel skip ``enter`` when the
    #: carried value already is; also C-level).
    current: Final = _current.get

    def enter(self, value: ErrorContext | None, cell: Cell, kind: int, message: Any) -> None:
        """Make the message's context current (a no-op when it already is)."""
        if value is not None and type(value) is not ErrorContext:
            value = None  # another carrier's value (captured around a register)
        if value is not _current.get():
            _current.set(value)

    def leave(self, token: None, error: BaseException | None) -> None:
        """Attach the message's context to what the handler raised (if nothing inner did).

        Called only when the handler raised: :meth:`enter` returns no token.
        """
        if isinstance(error, Exception):
            ctx = _current.get()
            if ctx is not None:
                attach_context(error, ctx)

    def reset(self) -> None:
        """A new actor task starts outside any scope, whatever its creator's was."""
        if _current.get() is not None:
            _current.set(None)


ERROR_CONTEXT_CARRIER: Final = ErrorContextCarrier()
_carry.register(ERROR_CONTEXT_CARRIER)
set_context_source(current_context, error_context_of)  # the log bridge's context fields

"""The deprecated thread-local error-context mode, kept only for migration.

In this mode :func:`~bastion.resilience.error_scope` writes to a ``threading.local``
instead of the ``ContextVar``. Thread-locals are shared by every asyncio task of a
thread (contexts leak between concurrent tasks) and are not carried into worker
threads, which is why the mode is deprecated (see ``docs/resilience.md``).

Switching modes mid-operation loses nothing: a scope restores the store it wrote to,
and reads consult both stores and return the innermost context.
"""

from __future__ import annotations

import enum
import threading
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bastion.resilience._context import ErrorContext

__all__ = ["ContextMode", "context_mode", "set_context_mode"]


class ContextMode(enum.StrEnum):
    """Where error contexts are stored."""

    CONTEXTVARS = "contextvars"
    THREAD_LOCAL = "thread_local"  # deprecated


enabled = False  # new scopes write to the thread-local store
ever_enabled = False  # reads must consult both stores
_local = threading.local()


def context_mode() -> ContextMode:
    """The mode new scopes are stored in."""
    return ContextMode.THREAD_LOCAL if enabled else ContextMode.CONTEXTVARS


def set_context_mode(mode: ContextMode | str) -> ContextMode:
    """Select where new error scopes are stored; returns the previous mode.

    ``"thread_local"`` is deprecated and emits :class:`DeprecationWarning`. Operations
    already running keep their context across the switch.
    """
    global enabled, ever_enabled
    try:
        chosen = ContextMode(mode)
    except ValueError:
        choices = ", ".join(repr(m.value) for m in ContextMode)
        raise ValueError(f"unknown error-context mode {mode!r}; choose one of {choices}") from None
    previous = context_mode()
    if chosen is ContextMode.THREAD_LOCAL:
        warnings.warn(
            "the thread-local error-context mode is deprecated and will be removed; "
            "contexts leak between asyncio tasks and are not carried into threads. "
            "Use the default contextvars mode (see docs/resilience.md, 'Migrating').",
            DeprecationWarning,
            stacklevel=2,
        )
        ever_enabled = True
    enabled = chosen is ContextMode.THREAD_LOCAL
    return previous


def load() -> ErrorContext | None:
    """This thread's thread-local context."""
    ctx: ErrorContext | None = getattr(_local, "ctx", None)
    return ctx


def store(ctx: ErrorContext) -> ErrorContext | None:
    """Set this thread's thread-local context; returns the one it replaces."""
    previous = load()
    _local.ctx = ctx
    return previous


def restore(previous: ErrorContext | None) -> None:
    """Put back the thread-local context a scope replaced."""
    _local.ctx = previous


def innermost(from_var: ErrorContext | None) -> ErrorContext | None:
    """The innermost of the ContextVar's and the thread-local's contexts."""
    local = load()
    if local is None:
        return from_var
    if from_var is None or local.is_descendant_of(from_var):
        return local
    if from_var.is_descendant_of(local):
        return from_var
    return local if enabled else from_var


def holds_current(from_var: ErrorContext | None) -> bool:
    """Whether the thread-local store holds the innermost context."""
    local = load()
    return local is not None and innermost(from_var) is local

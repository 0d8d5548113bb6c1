"""Error context on :mod:`contextvars`: operation, correlation id, breadcrumbs, metadata.

A context is an immutable :class:`ErrorContext`. :func:`error_scope` pushes a child of
the current one and *always* restores the previous value on exit (a ``ContextVar``
token), so nested scopes, concurrent tasks and threads started with a copied context
never see each other's values. An exception leaving a scope gets the innermost
context attached (:func:`error_context_of`, a note on the traceback, and
``context["error_context"]`` for Bastion errors).

The deprecated thread-local mode (:func:`set_context_mode`) lives in :mod:`._legacy`.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import os
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, NamedTuple, ParamSpec, TypeVar, cast

from bastion._core._errors import BastionError
from bastion.resilience import _legacy

__all__ = [
    "Breadcrumb",
    "ErrorContext",
    "add_breadcrumb",
    "add_metadata",
    "current_context",
    "error_context_of",
    "error_scope",
]

P = ParamSpec("P")
R = TypeVar("R")

MAX_BREADCRUMBS = 32
_EMPTY: Mapping[str, Any] = {}
_ids = itertools.count(1)
_PREFIX = os.urandom(4).hex()
_ATTR = "__bastion_error_context__"


class Breadcrumb(NamedTuple):
    """One step recorded inside an operation."""

    name: str
    at_ns: int
    metadata: Mapping[str, Any]


class ErrorContext:
    """An immutable snapshot of the operation in progress.

    ``parent`` is the enclosing operation's context (``None`` at the root); a child
    inherits the correlation id, metadata and breadcrumbs of its parent.
    """

    __slots__ = (
        "_correlation_id",
        "breadcrumbs",
        "depth",
        "metadata",
        "operation",
        "operation_id",
        "parent",
        "started_ns",
    )

    operation: str
    operation_id: int
    _correlation_id: str | None
    metadata: Mapping[str, Any]
    breadcrumbs: tuple[Breadcrumb, ...]
    parent: ErrorContext | None
    depth: int
    started_ns: int

    def __init__(
        self,
        operation: str,
        correlation_id: str | None = None,
        metadata: Mapping[str, Any] = _EMPTY,
        parent: ErrorContext | None = None,
    ) -> None:
        op_id = next(_ids)
        self.operation = operation
        self.operation_id = op_id
        self.parent = parent
        if parent is None:
            self._correlation_id = correlation_id  # None: made on first read
            self.metadata = metadata
            self.breadcrumbs = ()
            self.depth = 0
        else:
            self._correlation_id = correlation_id or parent.correlation_id
            self.metadata = {**parent.metadata, **metadata} if metadata else parent.metadata
            self.breadcrumbs = parent.breadcrumbs
            self.depth = parent.depth + 1
        self.started_ns = time.perf_counter_ns()

    @property
    def correlation_id(self) -> str:
        """Shared by an operation and its children: given, inherited, or generated."""
        corr = self._correlation_id
        if corr is None:
            corr = self._correlation_id = f"{_PREFIX}-{self.operation_id:x}"
        return corr

    def _evolve(self, **changes: Any) -> ErrorContext:
        clone = object.__new__(ErrorContext)
        for name in ErrorContext.__slots__:
            object.__setattr__(clone, name, changes.get(name, getattr(self, name)))
        return clone

    def with_breadcrumb(self, name: str, metadata: Mapping[str, Any] = _EMPTY) -> ErrorContext:
        """A copy with one more breadcrumb (the oldest dropped beyond ``MAX_BREADCRUMBS``)."""
        crumb = Breadcrumb(name, time.perf_counter_ns(), dict(metadata))
        return self._evolve(breadcrumbs=(*self.breadcrumbs, crumb)[-MAX_BREADCRUMBS:])

    def with_metadata(self, metadata: Mapping[str, Any]) -> ErrorContext:
        """A copy with ``metadata`` merged over the current metadata."""
        return self._evolve(metadata={**self.metadata, **metadata})

    @property
    def path(self) -> tuple[str, ...]:
        """Operation names from the root to this context."""
        names: list[str] = []
        node: ErrorContext | None = self
        while node is not None:
            names.append(node.operation)
            node = node.parent
        return tuple(reversed(names))

    def duration_ns(self) -> int:
        """Nanoseconds since this operation started."""
        return time.perf_counter_ns() - self.started_ns

    def is_descendant_of(self, other: ErrorContext) -> bool:
        """Whether ``other`` is this context or one of its ancestors."""
        node: ErrorContext | None = self
        while node is not None and node.depth >= other.depth:
            if node is other:
                return True
            node = node.parent
        return False

    def as_dict(self) -> dict[str, Any]:
        """A plain-data rendering for logs and error payloads."""
        return {
            "operation": self.operation,
            "operation_id": self.operation_id,
            "correlation_id": self.correlation_id,
            "path": " > ".join(self.path),
            "metadata": dict(self.metadata),
            "breadcrumbs": [c.name for c in self.breadcrumbs],
        }

    def __repr__(self) -> str:
        return (
            f"ErrorContext(operation={self.operation!r}, operation_id={self.operation_id}, "
            f"correlation_id={self.correlation_id!r}, depth={self.depth})"
        )


_current: ContextVar[ErrorContext | None] = ContextVar("bastion_error_context", default=None)


def current_context() -> ErrorContext | None:
    """The innermost error context here, or ``None`` outside any scope.

    In the (deprecated) thread-local mode both stores are read and the innermost
    context wins, so switching modes mid-operation loses nothing.
    """
    ctx = _current.get()
    if not _legacy.ever_enabled:
        return ctx
    return _legacy.innermost(ctx)


def _replace_current(new: ErrorContext) -> None:
    """Store ``new`` where the current context lives (it replaces it in that store)."""
    if _legacy.ever_enabled and _legacy.holds_current(_current.get()):
        _legacy.store(new)
    else:
        _current.set(new)


def add_breadcrumb(name: str, **metadata: Any) -> bool:
    """Record a step in the current operation. Returns ``False`` outside any scope."""
    ctx = current_context()
    if ctx is None:
        return False
    _replace_current(ctx.with_breadcrumb(name, metadata))
    return True


def add_metadata(**metadata: Any) -> bool:
    """Merge ``metadata`` into the current context. Returns ``False`` outside any scope."""
    ctx = current_context()
    if ctx is None:
        return False
    _replace_current(ctx.with_metadata(metadata))
    return True


def error_context_of(exc: BaseException) -> ErrorContext | None:
    """The context of the innermost scope ``exc`` was raised in, if any."""
    ctx = getattr(exc, _ATTR, None)
    return ctx if isinstance(ctx, ErrorContext) else None


def attach_context(exc: BaseException, ctx: ErrorContext) -> None:
    """Attach ``ctx`` to ``exc`` unless an inner scope did already."""
    if getattr(exc, _ATTR, None) is not None:
        return
    try:
        setattr(exc, _ATTR, ctx)
    except (AttributeError, TypeError):  # an exception type without a __dict__
        return
    if isinstance(exc, BastionError):
        exc.context.setdefault("error_context", ctx.as_dict())
    exc.add_note(
        f"bastion error context: {' > '.join(ctx.path)} "
        f"(operation_id={ctx.operation_id}, correlation_id={ctx.correlation_id})"
    )


class error_scope:
    """Run a block (or a function) as an operation with its own error context.

    As a context manager it yields the new :class:`ErrorContext`; as a decorator it
    opens a fresh scope per call (sync or ``async def``). The previous context is
    restored on exit, whatever happens. Exceptions (not cancellation) leaving the scope
    get the innermost context attached.

    ::

        with error_scope("charge", correlation_id=request_id, account=7):
            ...

        @error_scope("sync_inventory")
        async def sync_inventory() -> None: ...
    """

    __slots__ = ("_correlation_id", "_ctx", "_legacy_prev", "_metadata", "_operation", "_token")

    def __init__(
        self, operation: str, /, *, correlation_id: str | None = None, **metadata: Any
    ) -> None:
        if not isinstance(operation, str) or not operation:
            raise TypeError(f"operation must be a non-empty str, got {operation!r}")
        self._operation = operation
        self._correlation_id = correlation_id
        self._metadata: Mapping[str, Any] = metadata
        self._token: Token[ErrorContext | None] | None = None
        self._legacy_prev: ErrorContext | None = None
        self._ctx: ErrorContext | None = None

    def __enter__(self) -> ErrorContext:
        if self._ctx is not None:
            raise RuntimeError("an error_scope object cannot be entered twice; create a new one")
        parent = _current.get()
        if _legacy.ever_enabled:
            parent = _legacy.innermost(parent)
        ctx = ErrorContext(self._operation, self._correlation_id, self._metadata, parent)
        self._ctx = ctx
        if _legacy.enabled:
            self._legacy_prev = _legacy.store(ctx)
        else:
            self._token = _current.set(ctx)
        return ctx

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and isinstance(exc, Exception):
            attach_context(exc, current_context() or cast(ErrorContext, self._ctx))
        token = self._token
        if token is not None:
            _current.reset(token)  # the store we wrote to, whatever the mode is now
        else:
            _legacy.restore(self._legacy_prev)

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``fn`` so that each call runs in a fresh scope with these arguments."""
        operation, correlation_id, metadata = self._operation, self._correlation_id, self._metadata
        if inspect.iscoroutinefunction(fn):
            afn = cast(Callable[P, Any], fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                with error_scope(operation, correlation_id=correlation_id, **metadata):
                    return await afn(*args, **kwargs)

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with error_scope(operation, correlation_id=correlation_id, **metadata):
                return fn(*args, **kwargs)

        return wrapper

"""``isolate``: run an operation as a supervised task with a deadline.

The task is started by the runtime's task supervisor (``rt.tasks.run``), so it is
tracked, cancelled at the deadline and at shutdown, and runs in a copy of the caller's
context (error context included). Failures come back classified:

- an expected error (validation, business) is part of the contract: re-raised as is;
- the deadline passing is an infrastructure timeout: :class:`OperationTimeout`;
- anything else is a crash contained by the isolation: :class:`IsolatedFailure`,
  the original chained as ``__cause__``.

Cancellation of the caller cancels the task and propagates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bastion._core._errors import CallTimeout, ExpectedError, RuntimeClosed
from bastion._core._ref import check_timeout
from bastion._core._runtime import Runtime, current_runtime
from bastion.resilience._classify import describe
from bastion.resilience._context import current_context, error_context_of
from bastion.resilience._errors import IsolatedFailure, OperationTimeout

__all__ = ["isolate"]

T = TypeVar("T")


async def isolate(
    fn: Callable[..., Awaitable[T]],
    *args: Any,
    timeout: float,
    name: str | None = None,
    runtime: Runtime | None = None,
) -> T:
    """Await ``fn(*args)`` as a supervised task of ``runtime`` (default: the current one).

    ``timeout`` is required, finite and > 0 (``ValueError`` otherwise). Raises
    ``RuntimeClosed`` outside a runtime or when it is shutting down.
    """
    timeout = check_timeout(timeout)
    rt = runtime or current_runtime()
    label = name or str(getattr(fn, "__qualname__", None) or repr(fn))
    try:
        return await rt.tasks.run(fn, *args, timeout=timeout, name=label)
    except (ExpectedError, IsolatedFailure, OperationTimeout, RuntimeClosed):
        raise  # the contract, an inner isolation, or the runtime shutting down: not a crash
    except CallTimeout as exc:
        raise OperationTimeout(
            f"isolated operation {label!r} did not finish within {timeout}s",
            context=_context(label, timeout),
        ) from exc
    except Exception as exc:  # every crash is re-raised, wrapped: nothing is swallowed
        raise IsolatedFailure(
            f"isolated operation {label!r} crashed: {describe(exc)}",
            context=_context(label, timeout, exc),
        ) from exc


def _context(label: str, timeout: float, exc: BaseException | None = None) -> dict[str, Any]:
    ctx = (error_context_of(exc) if exc is not None else None) or current_context()
    info: dict[str, Any] = {"operation": label, "timeout": timeout}
    if ctx is not None:
        info["error_context"] = ctx.as_dict()
    return info

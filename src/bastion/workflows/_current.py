"""The workflow context of the running task (how a ``@step`` call finds its workflow)."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bastion.workflows._context import WorkflowContext

__all__ = ["ATTEMPT", "CURRENT", "current_context", "step_attempt"]

#: Set in a workflow's task while its code runs; None inside a step (steps nest plainly).
CURRENT: contextvars.ContextVar[WorkflowContext | None] = contextvars.ContextVar(
    "bastion_workflow", default=None
)


def current_context() -> WorkflowContext | None:
    """The context of the workflow whose code is running here, or None."""
    return CURRENT.get()


#: The attempt number (1-based) of the step running in this task; 0 outside a step.
ATTEMPT: contextvars.ContextVar[int] = contextvars.ContextVar("bastion_step_attempt", default=0)


def step_attempt() -> int:
    """The attempt number (1, 2, ...) of the durable step whose code runs here; 0 outside one.

    Counted across restarts: an attempt that follows a recorded retryable failure has
    the next number, so a step can derive an idempotency key from it (the
    CoordinatorAgent's task ids ``<workflow>/<step>/<attempt>`` are made this way).
    """
    return ATTEMPT.get()

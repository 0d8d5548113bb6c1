"""The workflow context of the running task (how a ``@step`` call finds its workflow)."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bastion.workflows._context import WorkflowContext

__all__ = ["CURRENT", "current_context"]

#: Set in a workflow's task while its code runs; None inside a step (steps nest plainly).
CURRENT: contextvars.ContextVar[WorkflowContext | None] = contextvars.ContextVar(
    "bastion_workflow", default=None
)


def current_context() -> WorkflowContext | None:
    """The context of the workflow whose code is running here, or None."""
    return CURRENT.get()

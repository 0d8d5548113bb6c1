"""Errors raised by agents; all rooted in the Bastion exception tree.

::

    ExpectedError (returned to the caller, the agent keeps running)
    ├── ValidationError
    │   ├── UnknownAction          no action of that name
    │   └── InvalidTask            a task that no handler accepts
    └── BusinessError
        ├── QueueFull              the bounded task queue is full (retryable)
        ├── AgentPaused            the agent is paused and refuses work
        ├── WorkflowLimitExceeded  too many workflows pending
        └── UnknownWorkflow        no workflow with that id
"""

from __future__ import annotations

from bastion._core._errors import BusinessError, ValidationError

__all__ = [
    "AgentPaused",
    "InvalidTask",
    "QueueFull",
    "UnknownAction",
    "UnknownWorkflow",
    "WorkflowLimitExceeded",
]


class UnknownAction(ValidationError):
    """The agent has no action of that name."""


class InvalidTask(ValidationError):
    """The task is malformed or of a type no handler is registered for."""


class QueueFull(BusinessError):
    """The agent's bounded task queue is full; nothing was queued. Retry later."""

    default_retryable = True


class AgentPaused(BusinessError):
    """The agent is paused and refuses this action."""

    default_retryable = True


class WorkflowLimitExceeded(BusinessError):
    """The coordinator holds as many workflows as it may; nothing was started."""

    default_retryable = True


class UnknownWorkflow(BusinessError):
    """No active or finished workflow has that id."""

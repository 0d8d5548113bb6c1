"""Errors of durable workflows; all rooted in the Bastion exception tree.

::

    BastionError
    └── WorkflowError                  something about a workflow went wrong
        ├── WorkflowFailed             the workflow raised; ``result()`` re-raises it as this
        │   └── WorkflowTimedOut       it ran past its ``timeout``
        ├── WorkflowCancelled          it was cancelled (``result()`` of a cancelled one)
        ├── StepFailed                 a step failed for good (raised into the workflow code)
        ├── NonDeterministicWorkflow   the code called another step than the history holds
        ├── IncompatibleWorkflow       no registered code can run the stored version
        ├── WorkflowWaitTimeout        ``result(timeout=)`` expired (also a ``bastion.Timeout``)
        └── CorruptWorkflow            stored workflow data did not decode (quarantined)
    BusinessError (ExpectedError)
    ├── UnknownWorkflow                no workflow has that id (``bastion.agents``' own class)
    ├── WorkflowFinished               a message or an action for a finished workflow
    └── InboxFull                      the workflow's bounded inbox is full (retryable)
"""

from __future__ import annotations

from bastion._core._errors import BastionError, BusinessError, Category, Timeout
from bastion.agents._errors import UnknownWorkflow

__all__ = [
    "CorruptWorkflow",
    "IncompatibleWorkflow",
    "InboxFull",
    "NonDeterministicWorkflow",
    "StepFailed",
    "UnknownWorkflow",
    "WorkflowCancelled",
    "WorkflowError",
    "WorkflowFailed",
    "WorkflowFinished",
    "WorkflowTimedOut",
    "WorkflowWaitTimeout",
]


class WorkflowError(BastionError):
    """Base of the errors of durable workflows."""

    category = Category.SYSTEM


class WorkflowFailed(WorkflowError):
    """The workflow raised; ``str()`` names the original error type and message."""


class WorkflowTimedOut(WorkflowFailed):
    """The workflow ran past its ``timeout`` (a stored deadline) and was stopped."""


class WorkflowCancelled(WorkflowError):
    """The workflow was cancelled; its in-flight step was cancelled and fenced."""


class StepFailed(WorkflowError):
    """A step failed for good (not retryable, or out of attempts).

    Raised into the workflow code at the step's call, the same way on the first run and
    on every replay (the failure is recorded): ``error_type`` is the original exception's
    class name; on the first run the original exception is chained as ``__cause__``.
    """

    @property
    def step(self) -> str:
        """The step's name."""
        return str(self.context.get("step", ""))

    @property
    def error_type(self) -> str:
        """The class name of the step's original exception."""
        return str(self.context.get("error_type", ""))


class NonDeterministicWorkflow(WorkflowError):
    """Replaying the workflow reached a recorded step that the code no longer calls."""


class IncompatibleWorkflow(WorkflowError):
    """The stored workflow was started on a version no registered code implements."""


class CorruptWorkflow(WorkflowError):
    """Stored workflow data did not decode; the workflow's namespace was quarantined."""


class WorkflowFinished(BusinessError):
    """The workflow has finished; it takes no more messages or cancellation."""


class InboxFull(BusinessError):
    """The workflow's inbox holds ``max_inbox`` unread messages; nothing was sent."""

    default_retryable = True


class WorkflowWaitTimeout(WorkflowError, Timeout):
    """A wait for a workflow's result ran past its ``timeout``; the workflow goes on."""

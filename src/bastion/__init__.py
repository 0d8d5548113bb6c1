"""Bastion: Erlang/OTP-grade fault tolerance for Python agents.

Layers (imports point downward only)::

    cli/                          user surfaces; read statistics(), never internals
    agents/ resilience/ persistence/ telemetry/
    _core/                        kernel: stdlib + asyncio only
    checks/                       static checker; imports nothing from the runtime
    testing/                      helpers on top of the public API
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import bastion.telemetry as telemetry
from bastion._core._actor import Actor
from bastion._core._children import ChildCounts
from bastion._core._childspec import Backoff, ChildSpec, Restart, Strategy
from bastion._core._clock import Clock
from bastion._core._deadletters import DeadLetter, DeadLetters, ReplayResult
from bastion._core._errors import (
    ActorCrashed,
    ActorError,
    ActorNotAlive,
    BastionError,
    BusinessError,
    CallTimeout,
    Category,
    ExpectedError,
    InfrastructureError,
    LinkedExit,
    MailboxFull,
    NameTaken,
    NoSuchActor,
    RestartIntensityExceeded,
    RuntimeClosed,
    Severity,
    StartFailed,
    SupervisorError,
    Timeout,
    ValidationError,
)
from bastion._core._intensity import RestartIntensity
from bastion._core._messages import Down, Exit, ExitReason, MonitorRef, is_abnormal
from bastion._core._options import RuntimeOptions
from bastion._core._ref import ActorRef
from bastion._core._registry import Registry, RegistryEntry
from bastion._core._replies import NoReply, ReplyHandle
from bastion._core._run import open_runtime, run
from bastion._core._runtime import Runtime, current_runtime
from bastion._core._stats import (
    ActorStatistics,
    DeadLetterStatistics,
    RuntimeStatistics,
    SupervisorStatistics,
    TaskSupervisorStatistics,
)
from bastion._core._supervisor import ChildInfo, Supervisor, SupervisorHandle
from bastion._core._tasks import TaskSupervisor
from bastion._core._timers import Timer
from bastion._public import publish

if TYPE_CHECKING:
    from bastion.workflows import (
        WorkflowContext,
        WorkflowEngine,
        WorkflowHandle,
        open_workflows,
        step,
        workflow,
    )

__version__ = "0.1.0.dev0"

__all__ = [
    "__version__",
    "Actor",
    "ActorCrashed",
    "ActorError",
    "ActorNotAlive",
    "ActorRef",
    "ActorStatistics",
    "Backoff",
    "BastionError",
    "BusinessError",
    "CallTimeout",
    "Category",
    "ChildCounts",
    "ChildInfo",
    "ChildSpec",
    "Clock",
    "current_runtime",
    "DeadLetter",
    "DeadLetters",
    "DeadLetterStatistics",
    "Down",
    "Exit",
    "ExitReason",
    "ExpectedError",
    "InfrastructureError",
    "is_abnormal",
    "LinkedExit",
    "MailboxFull",
    "MonitorRef",
    "NameTaken",
    "NoReply",
    "NoSuchActor",
    "open_runtime",
    "open_workflows",
    "Registry",
    "RegistryEntry",
    "ReplayResult",
    "ReplyHandle",
    "Restart",
    "RestartIntensity",
    "RestartIntensityExceeded",
    "run",
    "Runtime",
    "RuntimeClosed",
    "RuntimeOptions",
    "RuntimeStatistics",
    "Severity",
    "StartFailed",
    "step",
    "Strategy",
    "Supervisor",
    "SupervisorError",
    "SupervisorHandle",
    "SupervisorStatistics",
    "TaskSupervisor",
    "TaskSupervisorStatistics",
    "telemetry",
    "Timeout",
    "Timer",
    "ValidationError",
    "workflow",
    "WorkflowContext",
    "WorkflowEngine",
    "WorkflowHandle",
]

#: Loaded on first use: durable workflows pull in persistence, resilience and agents,
#: which ``import bastion`` alone does not need.
_FROM_WORKFLOWS = frozenset(
    {"open_workflows", "step", "workflow", "WorkflowContext", "WorkflowEngine", "WorkflowHandle"}
)


def __getattr__(name: str) -> Any:
    if name in _FROM_WORKFLOWS:
        import bastion.workflows

        value = getattr(bastion.workflows, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bastion' has no attribute {name!r}")


publish({**globals(), "__all__": [n for n in __all__ if n not in _FROM_WORKFLOWS]}, "bastion")

"""Agents: actors with declared state, named actions, signals and durable state.

* :class:`Agent`: declared state with defaults, ``@action`` methods with validated
  parameters, hooks, registry registration (capabilities, health) and telemetry.
* :class:`PersistentAgent`: ``persistent_fields`` saved to a
  :class:`~bastion.persistence.StateStore` and restored on every (re)start.
* :class:`SignalBus`: pattern-routed signals with bounded, checked delivery.
* :class:`TaskAgent`, :class:`CoordinatorAgent`, :class:`MonitorAgent`: a durable task
  worker, a workflow coordinator and a health monitor built on the above.
"""

from __future__ import annotations

from bastion._public import publish
from bastion.agents._actions import Act, ActionSpec, act, action
from bastion.agents._agent import Agent
from bastion.agents._coordinator import CoordinatorAgent, CoordinatorStatistics
from bastion.agents._errors import (
    AgentPaused,
    InvalidTask,
    QueueFull,
    UnknownAction,
    UnknownWorkflow,
    WorkflowLimitExceeded,
)
from bastion.agents._monitor import HealthSample, MonitorAgent, Thresholds
from bastion.agents._persistent import PersistentAgent
from bastion.agents._retention import OutcomeRetention
from bastion.agents._signals import (
    Overflow,
    Signal,
    SignalBus,
    SignalBusStatistics,
    SubscriptionStatistics,
    topic_matches,
)
from bastion.agents._state import ItemMap, StateField
from bastion.agents._task_agent import DONE, TaskAgent, TaskHandler
from bastion.agents._task_types import (
    QueuedTask,
    Task,
    TaskAccepted,
    TaskAgentStatistics,
    TaskAgentStatus,
    TaskFinished,
    TaskMetrics,
    TaskOutcome,
    TaskSpec,
    TaskStatus,
    TaskValidation,
)
from bastion.agents._workflow import (
    StepPhase,
    StepSpec,
    StepState,
    Workflow,
    WorkflowPhase,
    WorkflowStatus,
)

__all__ = [
    "Act",
    "act",
    "action",
    "ActionSpec",
    "Agent",
    "AgentPaused",
    "CoordinatorAgent",
    "CoordinatorStatistics",
    "DONE",
    "HealthSample",
    "InvalidTask",
    "ItemMap",
    "MonitorAgent",
    "OutcomeRetention",
    "Overflow",
    "PersistentAgent",
    "QueuedTask",
    "QueueFull",
    "Signal",
    "SignalBus",
    "SignalBusStatistics",
    "StateField",
    "StepPhase",
    "StepSpec",
    "StepState",
    "SubscriptionStatistics",
    "Task",
    "TaskAccepted",
    "TaskAgent",
    "TaskAgentStatistics",
    "TaskAgentStatus",
    "TaskFinished",
    "TaskHandler",
    "TaskMetrics",
    "TaskOutcome",
    "TaskSpec",
    "TaskStatus",
    "TaskValidation",
    "Thresholds",
    "topic_matches",
    "UnknownAction",
    "UnknownWorkflow",
    "Workflow",
    "WorkflowLimitExceeded",
    "WorkflowPhase",
    "WorkflowStatus",
]

publish(globals(), "bastion.agents")

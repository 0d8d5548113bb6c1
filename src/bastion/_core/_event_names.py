"""The catalogue of every telemetry event Bastion emits: one constant per name.

Emitters import these instead of writing tuple literals, so a typo is a ``NameError``
at import (and mypy sees it) instead of an event nobody receives. Handlers may use the
same constants with :func:`bastion.telemetry.attach`. Span prefixes (``AGENT_ACTION``,
``AGENT_TASK``) gain a last part ``"start"``, ``"stop"`` or ``"exception"``.

Measurements and metadata of each event are documented in ``docs/actors.md``,
``docs/agents.md`` and ``docs/resilience.md``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACTOR_CRASH",
    "ACTOR_EXPECTED_ERROR",
    "ACTOR_START",
    "ACTOR_STOP",
    "AGENT_ACTION",
    "AGENT_MONITOR_SAMPLE",
    "AGENT_STARTED",
    "AGENT_STATE_QUARANTINED",
    "AGENT_STATE_RESTORED",
    "AGENT_STOPPED",
    "AGENT_TASK",
    "AGENT_TASK_RECOVERED",
    "ALL",
    "BREAKER_REJECTED",
    "BREAKER_STATE_CHANGE",
    "BULKHEAD_REJECTED",
    "CALL_TIMEOUT",
    "DEAD_LETTER",
    "DURABLE_STEP",
    "DURABLE_WORKFLOW",
    "DURABLE_WORKFLOW_QUARANTINED",
    "DURABLE_WORKFLOW_REFUSED",
    "MAILBOX_FULL",
    "RETRY_ATTEMPT",
    "SUPERVISOR_ESCALATION",
    "SUPERVISOR_RESTART",
    "TASK_AGENT_PAUSED",
    "TASK_EXCEPTION",
    "WORKFLOW_DISPATCH_REFUSED",
    "WORKFLOW_FINISHED",
    "WORKFLOW_STALLED",
    "WORKFLOW_STARTED",
]

EventName = tuple[str, ...]

# -- kernel -------------------------------------------------------------------------
ACTOR_START: Final = ("bastion", "actor", "start")
ACTOR_STOP: Final = ("bastion", "actor", "stop")
ACTOR_CRASH: Final = ("bastion", "actor", "crash")
ACTOR_EXPECTED_ERROR: Final = ("bastion", "actor", "expected_error")
CALL_TIMEOUT: Final = ("bastion", "call", "timeout")
MAILBOX_FULL: Final = ("bastion", "mailbox", "full")
SUPERVISOR_RESTART: Final = ("bastion", "supervisor", "restart")
SUPERVISOR_ESCALATION: Final = ("bastion", "supervisor", "escalation")
DEAD_LETTER: Final = ("bastion", "dead_letter")
TASK_EXCEPTION: Final = ("bastion", "task", "exception")

# -- resilience ---------------------------------------------------------------------
RETRY_ATTEMPT: Final = ("bastion", "retry", "attempt")
BREAKER_STATE_CHANGE: Final = ("bastion", "breaker", "state_change")
BREAKER_REJECTED: Final = ("bastion", "breaker", "rejected")
BULKHEAD_REJECTED: Final = ("bastion", "bulkhead", "rejected")

# -- agents -------------------------------------------------------------------------
AGENT_STARTED: Final = ("bastion", "agent", "started")
AGENT_STOPPED: Final = ("bastion", "agent", "stopped")
AGENT_ACTION: Final = ("bastion", "agent", "action")  # span prefix
AGENT_TASK: Final = ("bastion", "agent", "task")  # span prefix
AGENT_TASK_RECOVERED: Final = ("bastion", "agent", "task", "recovered")
TASK_AGENT_PAUSED: Final = ("bastion", "agent", "task_agent", "paused")
AGENT_STATE_RESTORED: Final = ("bastion", "agent", "state", "restored")
AGENT_STATE_QUARANTINED: Final = ("bastion", "agent", "state", "quarantined")
AGENT_MONITOR_SAMPLE: Final = ("bastion", "agent", "monitor", "sample")
WORKFLOW_STARTED: Final = ("bastion", "agent", "workflow", "started")
WORKFLOW_DISPATCH_REFUSED: Final = ("bastion", "agent", "workflow", "dispatch_refused")
WORKFLOW_STALLED: Final = ("bastion", "agent", "workflow", "stalled")
#: A workflow reached a final phase, by the phase's value (completed, failed, cancelled).
WORKFLOW_FINISHED: Final[dict[str, EventName]] = {
    phase: ("bastion", "agent", "workflow", phase) for phase in ("completed", "failed", "cancelled")
}

# -- durable workflows (``bastion.workflows``) --------------------------------------------
DURABLE_WORKFLOW: Final = ("bastion", "workflow", "run")  # span prefix: one run of a workflow
DURABLE_STEP: Final = ("bastion", "workflow", "step")  # span prefix: one attempt of a step
DURABLE_WORKFLOW_QUARANTINED: Final = ("bastion", "workflow", "quarantined")
#: An engine cannot run a stored workflow (unknown version or name, corrupt data).
DURABLE_WORKFLOW_REFUSED: Final = ("bastion", "workflow", "refused")

_SPANS = tuple(
    (*prefix, part)
    for prefix in (AGENT_ACTION, AGENT_TASK, DURABLE_WORKFLOW, DURABLE_STEP)
    for part in ("start", "stop", "exception")
)
#: Every event name above (span prefixes expanded), for documentation and tests.
ALL: Final[tuple[EventName, ...]] = (
    ACTOR_START, ACTOR_STOP, ACTOR_CRASH, ACTOR_EXPECTED_ERROR, CALL_TIMEOUT, MAILBOX_FULL,
    SUPERVISOR_RESTART, SUPERVISOR_ESCALATION, DEAD_LETTER, TASK_EXCEPTION, RETRY_ATTEMPT,
    BREAKER_STATE_CHANGE, BREAKER_REJECTED, BULKHEAD_REJECTED, AGENT_STARTED, AGENT_STOPPED,
    AGENT_TASK_RECOVERED, TASK_AGENT_PAUSED, AGENT_STATE_RESTORED, AGENT_STATE_QUARANTINED,
    AGENT_MONITOR_SAMPLE, WORKFLOW_STARTED, WORKFLOW_DISPATCH_REFUSED, WORKFLOW_STALLED,
    *WORKFLOW_FINISHED.values(), DURABLE_WORKFLOW_QUARANTINED, DURABLE_WORKFLOW_REFUSED,
    *_SPANS,
)  # fmt: skip

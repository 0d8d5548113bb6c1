"""The metrics that layers above the kernel record through ``bastion.telemetry`` hooks.

Declared here, in the kernel, so every runtime with metrics on registers them at start
(a series that will exist is exported as 0 before its first event) and the hooks and
the docs table share one definition.
"""

from __future__ import annotations

from typing import NamedTuple

from bastion._core._metrics import MetricKind, MetricsRegistry

__all__ = ["CATALOG", "Definition", "declare_catalog"]


class Definition(NamedTuple):
    """The shape of one hooked metric."""

    kind: MetricKind
    description: str
    unit: str
    labels: tuple[str, ...]


_C, _G, _H = MetricKind.COUNTER, MetricKind.GAUGE, MetricKind.HISTOGRAM

CATALOG: dict[str, Definition] = {
    "bastion_retry_attempts": Definition(
        _C, "Retry decisions, by target and outcome (retry, success, gave_up_*...).", "1",
        ("target", "outcome"),
    ),
    "bastion_retry_budget_refusals": Definition(
        _C, "Retries refused because the target's retry budget was spent.", "1", ("target",)
    ),
    "bastion_breaker_transitions": Definition(
        _C, "Circuit breaker state changes, by breaker and from/to state.", "1",
        ("breaker", "from_state", "to_state"),
    ),
    "bastion_breaker_state": Definition(
        _G, "Circuit breaker state now: 0 closed, 1 half-open, 2 open.", "1", ("breaker",)
    ),
    "bastion_breaker_rejections": Definition(
        _C, "Calls refused by an open (or saturated half-open) breaker.", "1", ("breaker",)
    ),
    "bastion_bulkhead_rejections": Definition(
        _C, "Calls refused by a bulkhead, by reason (full, wait timeout).", "1",
        ("bulkhead", "reason"),
    ),
    "bastion_bulkhead_wait_seconds": Definition(
        _H, "Time a call waited in a bulkhead's queue for a slot.", "s", ("bulkhead",)
    ),
    "bastion_persistence_write_seconds": Definition(
        _H, "Acknowledged-write latency: a batch's submit to its acknowledgement.", "s",
        ("store",),
    ),
    "bastion_persistence_group_size": Definition(
        _H, "Writes committed together in one group commit (a count, not seconds).", "1",
        ("store",),
    ),
    "bastion_persistence_writer_lag": Definition(
        _G, "Operations queued for the next group commit (the writer's backlog).", "1", ("store",)
    ),
    "bastion_persistence_checkpoint_seconds": Definition(
        _H, "Time one WAL checkpoint took.", "s", ("store",)
    ),
    "bastion_persistence_quarantines": Definition(
        _C, "Stored states quarantined as corrupt or of an unknown version.", "1", ("store",)
    ),
    "bastion_task_agent_queue_length": Definition(
        _G, "Tasks queued in a TaskAgent now, by agent name.", "1", ("agent",)
    ),
    "bastion_task_agent_tasks": Definition(
        _C, "Tasks a TaskAgent finished, by agent class and outcome.", "1",
        ("agent_class", "outcome"),
    ),
    "bastion_task_agent_task_seconds": Definition(
        _H, "Time a TaskAgent spent running one task.", "s", ("agent_class",)
    ),
    "bastion_workflows": Definition(
        _C, "Durable workflows that finished, by workflow name and status.", "1",
        ("workflow", "status"),
    ),
    "bastion_workflow_steps": Definition(
        _C, "Durable step attempts, by step name and outcome (completed, retry, failed).", "1",
        ("step", "outcome"),
    ),
    "bastion_workflow_step_seconds": Definition(
        _H, "Time one successful durable step attempt ran.", "s", ("step",)
    ),
}  # fmt: skip


def declare_catalog(registry: MetricsRegistry) -> None:
    """Register every :data:`CATALOG` metric in ``registry``."""
    for name, (kind, description, unit, labels) in CATALOG.items():
        if kind is MetricKind.COUNTER:
            registry.counter(name, description, unit=unit, labels=labels)
        elif kind is MetricKind.GAUGE:
            registry.gauge(name, description, unit=unit, labels=labels)
        else:
            registry.histogram(name, description, unit=unit, labels=labels)

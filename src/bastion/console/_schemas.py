"""JSON schemas of the console's answers and bodies (components of the OpenAPI document)."""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMAS", "array", "nullable", "obj", "ref"]

INT: dict[str, Any] = {"type": "integer"}
NUM: dict[str, Any] = {"type": "number"}
STR: dict[str, Any] = {"type": "string"}
BOOL: dict[str, Any] = {"type": "boolean"}


def ref(name: str) -> dict[str, Any]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null (OpenAPI 3.0)."""
    return {**schema, "nullable": True}


def array(items: dict[str, Any]) -> dict[str, Any]:
    """An array of ``items``."""
    return {"type": "array", "items": items}


def obj(properties: dict[str, Any], *, extra: dict[str, Any] | bool = False) -> dict[str, Any]:
    """An object with exactly these (all required) properties."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": extra,
    }


def _page(item: str) -> dict[str, Any]:
    return obj({"total": INT, "offset": INT, "limit": INT, "items": array(ref(item))})


_SUPERVISOR = {
    "id": STR, "actor_id": INT, "name": nullable(STR), "strategy": STR, "children": INT,
    "alive_children": INT, "restarts": INT, "restarts_in_window": INT, "max_restarts": INT,
    "max_seconds": NUM, "intensity_used": NUM, "pending_restarts": INT,
    "parent": nullable(STR), "child_id": nullable(STR),
}  # fmt: skip
_RUNTIME = {
    "actors": INT, "busy_actors": INT, "spawned": INT, "stopped": INT, "crashed": INT,
    "restarts": INT, "escalations": INT, "call_timeouts": INT, "late_replies": INT,
    "mailbox_full": INT, "registered_names": INT, "timers": INT, "monitors": INT, "links": INT,
    "dead_letters": ref("DeadLetterStatistics"), "tasks": ref("TaskStatistics"),
}  # fmt: skip
_TASK_AGENT = {
    "name": STR,
    "available": BOOL,
    "error": nullable(STR),
}
_TASK_AGENT_STATS = {
    "status": STR, "pause_reason": nullable(STR), "queued": INT,
    "queued_by_priority": {"type": "object", "additionalProperties": INT},
    "current_task": nullable(STR), "processed": INT, "failed": INT, "consecutive_errors": INT,
    "recovered_in_flight": INT, "average_duration": nullable(NUM), "fastest": nullable(NUM),
    "slowest": nullable(NUM), "max_queue_size": INT, "notify_failures": INT,
    "oldest_queued_at": nullable(NUM), "oldest_waiting_seconds": nullable(NUM),
}  # fmt: skip

SCHEMAS: dict[str, Any] = {
    "Error": obj({"error": obj({"code": STR, "message": STR})}),
    "SampleInfo": obj({"seq": INT, "at": NUM, "wall": NUM}),
    "Actor": obj(
        {
            "id": INT,
            "name": nullable(STR),
            "actor_class": STR,
            "state": {"type": "string", "enum": ["busy", "idle", "stopped"]},
            "mailbox_depth": INT,
            "mailbox_capacity": INT,
            "processed": INT,
            "rate": NUM,
            "supervisor": nullable(STR),
            "child_id": nullable(STR),
        }
    ),
    "Child": obj(
        {
            "id": STR,
            "actor_class": STR,
            "restart": {"type": "string", "enum": ["permanent", "transient", "temporary"]},
            "alive": BOOL,
            "actor_id": nullable(INT),
            "restarts": INT,
            "supervisor": nullable(STR),
        }
    ),
    "Supervisor": obj(_SUPERVISOR),
    "TreeSupervisor": obj(
        {**_SUPERVISOR, "child_rows": array(ref("Child")), "children_truncated": BOOL}
    ),
    "Group": obj(
        {
            "key": STR,
            "actors": INT,
            "busy": INT,
            "mailbox_depth": INT,
            "mailbox_max": INT,
            "rate": NUM,
            "calls_per_second": nullable(NUM),
            "latency_p50": nullable(NUM),
            "latency_p99": nullable(NUM),
        }
    ),
    "Point": obj(
        {
            "at": NUM,
            "calls_per_second": NUM,
            "error_rate": NUM,
            "latency_p50": nullable(NUM),
            "latency_p99": nullable(NUM),
            "restarts": INT,
            "dead_letters": INT,
            "mailbox_depth": INT,
            "task_queue": INT,
            "actors": INT,
        }
    ),
    "DeadLetterStatistics": obj(
        {
            "size": INT,
            "capacity": INT,
            "total": INT,
            "evicted": INT,
            "replayed": INT,
            "by_reason": {"type": "object", "additionalProperties": INT},
        }
    ),
    "TaskStatistics": obj(
        {
            "running": INT,
            "started": INT,
            "succeeded": INT,
            "failed": INT,
            "cancelled": INT,
            "timed_out": INT,
            "blocking_running": INT,
            "blocking_capacity": INT,
            "blocking_abandoned": INT,
        }
    ),
    "RuntimeStatistics": obj(_RUNTIME),
    "Signal": obj(
        {
            "signal": STR,
            "value": NUM,
            "degraded": NUM,
            "failing": NUM,
            "window": NUM,
            "samples": INT,
            "status": {"type": "string", "enum": ["ok", "degraded", "failing"]},
        }
    ),
    "Health": obj(
        {
            "available": BOOL,
            "status": nullable(STR),
            "at": nullable(NUM),
            "signals": array(ref("Signal")),
            "drivers": array(STR),
        }
    ),
    "HealthAnswer": obj(
        {
            "sample": ref("SampleInfo"),
            "available": BOOL,
            "status": nullable(STR),
            "at": nullable(NUM),
            "signals": array(ref("Signal")),
            "drivers": array(STR),
        }
    ),
    "Overview": obj(
        {
            "node": obj(
                {"version": STR, "pid": INT, "started": NUM, "uptime": NUM, "interval": NUM}
            ),
            "sample": ref("SampleInfo"),
            "runtime": ref("RuntimeStatistics"),
            "health": ref("Health"),
            "supervisors": INT,
            "busiest": array(ref("Actor")),
            "point": ref("Point"),
        }
    ),
    "Tree": obj(
        {
            "sample": ref("SampleInfo"),
            "roots": array(STR),
            "supervisors": array(ref("TreeSupervisor")),
            "unsupervised_actors": INT,
        }
    ),
    "SupervisorPage": obj(
        {
            "sample": ref("SampleInfo"),
            "supervisor": ref("Supervisor"),
            "children": _page("Child"),
        }
    ),
    "ActorPage": obj(
        {
            "sample": ref("SampleInfo"),
            "sort": STR,
            "total": INT,
            "offset": INT,
            "limit": INT,
            "items": array(ref("Actor")),
        }
    ),
    "Summary": obj(
        {
            "sample": ref("SampleInfo"),
            "by": STR,
            "total": INT,
            "groups": array(ref("Group")),
        }
    ),
    "Agent": obj(
        {
            "name": STR,
            "actor_class": STR,
            "actor_id": INT,
            "capabilities": array(STR),
            "health": nullable(STR),
            "metadata": {"type": "object", "additionalProperties": STR},
        }
    ),
    "AgentPage": _page("Agent"),
    "TaskAgent": {
        "type": "object",
        "properties": {**_TASK_AGENT, **_TASK_AGENT_STATS},
        "required": list(_TASK_AGENT),
        "additionalProperties": False,
    },
    "TaskAgentPage": _page("TaskAgent"),
    "DeadLetter": obj(
        {
            "recipient": STR,
            "name": nullable(STR),
            "reason": STR,
            "at": NUM,
            "age": NUM,
            "message": STR,
        }
    ),
    "DeadLetters": obj(
        {
            "statistics": ref("DeadLetterStatistics"),
            "items": array(ref("DeadLetter")),
        }
    ),
    "MetricSample": {
        "type": "object",
        "properties": {
            "labels": {"type": "object", "additionalProperties": STR},
            "value": NUM,
            "histogram": obj(
                {"count": INT, "sum": NUM, "p50": nullable(NUM), "p99": nullable(NUM)}
            ),
        },
        "required": ["labels", "value"],
        "additionalProperties": False,
    },
    "MetricFamily": obj(
        {
            "name": STR,
            "kind": {"type": "string", "enum": ["counter", "gauge", "histogram"]},
            "unit": STR,
            "description": STR,
            "label_names": array(STR),
            "samples": array(ref("MetricSample")),
        }
    ),
    "Metrics": obj({"enabled": BOOL, "families": array(ref("MetricFamily"))}),
    "Series": obj({"interval": NUM, "window": NUM, "points": array(ref("Point"))}),
    "AuditEntry": obj(
        {
            "seq": INT,
            "at": NUM,
            "who": STR,
            "action": STR,
            "target": STR,
            "why": STR,
            "outcome": {"type": "string", "enum": ["ok", "failed"]},
            "detail": STR,
        }
    ),
    "Audit": obj({"entries": array(ref("AuditEntry"))}),
    "ControlBody": {
        "type": "object",
        "properties": {
            "why": {"type": "string", "minLength": 1, "maxLength": 500},
            "operator": nullable({"type": "string", "minLength": 1, "maxLength": 100}),
        },
        "required": ["why"],
        "additionalProperties": False,
    },
    "ReplayBody": {
        "type": "object",
        "properties": {
            "why": {"type": "string", "minLength": 1, "maxLength": 500},
            "operator": nullable({"type": "string", "minLength": 1, "maxLength": 100}),
            "name": nullable({"type": "string", "minLength": 1, "maxLength": 200}),
            "reason": nullable({"type": "string", "minLength": 1, "maxLength": 200}),
            "limit": nullable({"type": "integer", "minimum": 1, "maximum": 100000}),
        },
        "required": ["why"],
        "additionalProperties": False,
    },
    "ReplayAnswer": obj(
        {
            "result": obj({"delivered": INT, "failed": INT}),
            "statistics": ref("DeadLetterStatistics"),
            "audit": ref("AuditEntry"),
        }
    ),
    "ChildState": obj(
        {
            "id": STR,
            "actor_class": nullable(STR),
            "restart": nullable(STR),
            "alive": BOOL,
            "actor_id": nullable(INT),
        }
    ),
    "ChildAnswer": {
        "type": "object",
        "properties": {
            "child": ref("ChildState"),
            "supervisor": STR,
            "audit": ref("AuditEntry"),
            "error": obj({"code": STR, "message": STR}),
        },
        "required": ["child", "supervisor", "audit"],
        "additionalProperties": False,
    },
}

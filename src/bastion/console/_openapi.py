"""The console's OpenAPI 3.0 document, written by hand next to the endpoints it describes.

``tests/console/test_openapi.py`` runs schemathesis against it (every answer must match
its schema and be a documented status) and ``docs/console.md``'s API reference is
generated from it (``python -m bastion.console.openapi_markdown``).
"""

from __future__ import annotations

from typing import Any

import bastion
from bastion.console._schemas import SCHEMAS, ref
from bastion.console._schemas_rollout import ROLLOUT_SCHEMAS
from bastion.console._schemas_workflows import WORKFLOW_SCHEMAS, workflow_paths

__all__ = ["openapi_document"]

_ERRORS = {
    "400": "Bad query parameter or malformed JSON body",
    "401": "Missing or wrong bearer token",
    "403": "Cross-origin request refused",
    "404": "Unknown supervisor, child, metric or path",
    "409": "The supervisor or child could not do it now (the answer says why)",
    "413": "Request body too large",
    "415": "Body is not application/json",
    "422": "Body does not match its schema",
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _json(ref("Error"), _ERRORS[code]) for code in codes}


def _int_param(name: str, default: int, low: int, high: int, what: str) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": low, "maximum": high, "default": default}
    return {"name": name, "in": "query", "required": False, "description": what, "schema": schema}


def _text_param(name: str, what: str, max_length: int = 200) -> dict[str, Any]:
    schema = {"type": "string", "minLength": 1, "maxLength": max_length}
    return {"name": name, "in": "query", "required": False, "description": what, "schema": schema}


def _choice_param(name: str, choices: list[str], what: str) -> dict[str, Any]:
    schema = {"type": "string", "enum": choices, "default": choices[0]}
    return {"name": name, "in": "query", "required": False, "description": what, "schema": schema}


def _path_param(name: str, what: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": what,
            "schema": {"type": "string", "minLength": 1}}  # fmt: skip


def _page(limit: int, high: int, offset_high: int = 10_000_000) -> list[dict[str, Any]]:
    return [
        _int_param("offset", 0, 0, offset_high, "Items to skip"),
        _int_param("limit", limit, 1, high, "Items to return"),
    ]


def _get(summary: str, schema: dict[str, Any], params: list[dict[str, Any]] | None = None,
         errors: tuple[str, ...] = ("400",), tag: str = "read") -> dict[str, Any]:  # fmt: skip
    operation: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": {"200": _json(schema), **_errors(*errors)},
    }
    if params:
        operation["parameters"] = params
    return {"get": operation}


def _post(summary: str, body: str, schema: dict[str, Any], params: list[dict[str, Any]],
          errors: tuple[str, ...]) -> dict[str, Any]:  # fmt: skip
    responses = {"200": _json(schema), **_errors(*errors)}
    if "409" in errors:  # a refused action still answers the child's state and audit entry
        responses["409"] = _json({"anyOf": [ref("Error"), schema]}, _ERRORS["409"])
    return {
        "post": {
            "summary": summary,
            "tags": ["control"],
            "security": [{"bearer": []}],
            "parameters": params,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref(body)}},
            },
            "responses": responses,
        }
    }


def _read_paths() -> dict[str, Any]:
    sup = _path_param("supervisor", "Supervisor id: its registered name, else its actor id")
    actor_filters = [
        _choice_param("sort", ["rate", "mailbox", "processed", "id", "name"], "Sort order"),
        _text_param("class", "Only actors of this class"),
        _text_param("supervisor", "Only children of this supervisor"),
        _text_param("q", "Substring of name, class or id"),
        {"name": "state", "in": "query", "required": False, "description": "Only this state",
         "schema": {"type": "string", "enum": ["busy", "idle", "stopped"]}},
    ]  # fmt: skip
    return {
        "/api/overview": _get("The node at a glance", ref("Overview"), errors=()),
        "/api/tree": _get(
            "Supervisors with their first children; the roots", ref("Tree"), errors=()
        ),
        "/api/supervisors/{supervisor}": _get(
            "One supervisor and a page of its children",
            ref("SupervisorPage"),
            [sup, *_page(50, 500, 1_000_000)],
            ("400", "404"),
        ),
        "/api/actors": _get(
            "A sorted, filtered page of live actors",
            ref("ActorPage"),
            [*_page(50, 500), *actor_filters],
        ),
        "/api/actors/summary": _get(
            "Actors aggregated by class or supervisor",
            ref("Summary"),
            [
                _choice_param("by", ["class", "supervisor"], "Group by"),
                _int_param("limit", 100, 1, 1000, "Groups to return"),
            ],
        ),
        "/api/agents": _get(
            "Registered actors: capabilities, health, metadata", ref("AgentPage"), _page(50, 500)
        ),
        "/api/task-agents": _get(
            "TaskAgent queues (by priority, oldest waiting) and counters",
            ref("TaskAgentPage"),
            _page(50, 200, 1_000_000),
        ),
        "/api/dead-letters": _get(
            "Newest dead letters and the queue's statistics",
            ref("DeadLetters"),
            [
                _int_param("limit", 50, 1, 1000, "Letters to return"),
                _text_param("reason", "Only this reason (text before the first ':')"),
            ],
        ),
        "/api/health": _get("The HealthMonitor's report", ref("HealthAnswer"), errors=()),
        "/api/metrics": _get(
            "Current value of every metric",
            ref("Metrics"),
            [_text_param("name", "Only this metric")],
            ("400", "404"),
        ),
        "/api/series": _get(
            "Chart series, one point per sample",
            ref("Series"),
            [_int_param("limit", 300, 1, 100_000, "Newest points")],
        ),
        "/api/audit": _get(
            "The audit journal of control actions, newest first",
            ref("Audit"),
            [_int_param("limit", 100, 1, 1000, "Entries")],
        ),
        "/api/events": {
            "get": {
                "summary": "Live updates: Server-Sent Events, one 'snapshot' event per sample",
                "tags": ["read"],
                "parameters": [
                    _int_param(
                        "max_events", 0, 0, 1_000_000, "Close after this many events (0: never)"
                    )
                ],
                "responses": {
                    "200": {
                        "description": "text/event-stream; each data line is a Snapshot",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **_errors("400"),
                },
            }
        },
    }


def _control_paths() -> dict[str, Any]:
    sup = _path_param("supervisor", "Supervisor id: its registered name, else its actor id")
    child = _path_param("child", "Child id (its ChildSpec id)")
    body_errors = ("400", "401", "403", "413", "415", "422")
    child_errors = (*body_errors, "404", "409")
    return {
        "/api/dead-letters/replay": _post(
            "Re-send matching dead letters to the actors now registered under their name",
            "ReplayBody",
            ref("ReplayAnswer"),
            [],
            body_errors,
        ),
        "/api/supervisors/{supervisor}/children/{child}/restart": _post(
            "Restart a supervised child (terminated first if it runs)",
            "ControlBody",
            ref("ChildAnswer"),
            [sup, child],
            child_errors,
        ),
        "/api/supervisors/{supervisor}/children/{child}/terminate": _post(
            "Terminate a supervised child; its spec is kept (it stays down)",
            "ControlBody",
            ref("ChildAnswer"),
            [sup, child],
            child_errors,
        ),
    }


def _rollout_paths() -> dict[str, Any]:
    key = _path_param("key", "Flag key")
    flag = _path_param("flag", "The flag the rollout drives")
    action = {"name": "action", "in": "path", "required": True, "description": "What to do",
              "schema": {"type": "string", "enum": ["pause", "resume", "promote", "rollback",
                                                    "retry"]}}  # fmt: skip
    body_errors = ("400", "401", "403", "413", "415", "422")
    limit = _int_param("limit", 100, 1, 10_000, "Newest entries")
    flag_read = _get("One flag and its change history, newest first", ref("FlagAnswer"),
                     [key, limit], ("400", "404"), "flags")  # fmt: skip
    flag_set = _post("Set a flag's canary percentage and/or its kill switch", "FlagBody",
                     ref("FlagSetAnswer"), [key], (*body_errors, "404", "409"))  # fmt: skip
    return {
        "/api/flags": _get(
            "Every flag: variants, rules, percentage, kill switch",
            ref("Flags"),
            errors=(),
            tag="flags",
        ),
        "/api/flags/{key}": {**flag_read, **flag_set},
        "/api/rollouts": _get(
            "Every rollout: state, phase, exposure", ref("Rollouts"), errors=(), tag="rollouts"
        ),
        "/api/rollouts/{flag}": _get(
            "One rollout: status, latest evidence per signal, its decision journal",
            ref("RolloutAnswer"),
            [flag, _int_param("limit", 200, 1, 10_000, "Newest journal entries")],
            ("400", "404", "409"),
            "rollouts",
        ),
        "/api/rollouts/{flag}/{action}": _post(
            "Pause, resume, promote (force: past its gate), roll back or retry a rollout",
            "RolloutBody",
            ref("RolloutActionAnswer"),
            [flag, action],
            (*body_errors, "404", "409"),
        ),
    }


def openapi_document(*, metrics: bool = True) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the console (``metrics``: include ``/metrics``)."""
    paths = {
        **_read_paths(),
        **_control_paths(),
        **_rollout_paths(),
        **workflow_paths(_get, _post, _path_param, _int_param, _text_param),
    }
    if metrics:
        paths["/metrics"] = {
            "get": {
                "summary": "Prometheus exposition of the runtime's metrics (bastion[prometheus])",
                "tags": ["read"],
                "responses": {"200": {"description": "Prometheus text format",
                                      "content": {"text/plain": {"schema": {"type": "string"}}}}},
            }
        }  # fmt: skip
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Bastion operator console",
            "version": bastion.__version__,
            "description": "Status and control of one Bastion node. Reads are open on "
            "loopback; every POST needs 'Authorization: Bearer <token>'.",
        },
        "paths": paths,
        "components": {
            "schemas": {**SCHEMAS, **ROLLOUT_SCHEMAS, **WORKFLOW_SCHEMAS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }

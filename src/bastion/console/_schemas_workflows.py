"""The workflow part of the console's OpenAPI document: schemas and paths."""

from __future__ import annotations

from typing import Any

from bastion.console._schemas import INT, NUM, STR, array, nullable, obj, ref

__all__ = ["WORKFLOW_SCHEMAS", "workflow_paths"]

_ANY: dict[str, Any] = {}  # a decoded result: any JSON value
_WHY = {"type": "string", "minLength": 1, "maxLength": 500}
_OPERATOR = nullable({"type": "string", "minLength": 1, "maxLength": 100})
_STATUS = {"type": "string", "enum": ["running", "completed", "failed", "cancelled"]}
_STEP_KIND = {
    "type": "string",
    "enum": ["step", "sleep", "recv", "send", "set_event", "get_event", "patch"],
}
_STEP_STATUS = {"type": "string", "enum": ["completed", "failed", "retrying", "waiting"]}

WORKFLOW_SCHEMAS: dict[str, Any] = {
    "Workflow": obj(
        {
            "id": STR,
            "name": STR,
            "version": STR,
            "status": _STATUS,
            "created_at": NUM,
            "updated_at": NUM,
            "deadline": nullable(NUM),
            "result": _ANY,
            "error": nullable(STR),
            "error_type": nullable(STR),
            "forked_from": nullable(STR),
        }
    ),
    "WorkflowStep": obj(
        {
            "step_no": INT,
            "name": STR,
            "kind": _STEP_KIND,
            "status": _STEP_STATUS,
            "result": _ANY,
            "error": nullable(STR),
            "error_type": nullable(STR),
            "attempts": INT,
            "not_before": nullable(NUM),
            "started_at": nullable(NUM),
            "finished_at": nullable(NUM),
        }
    ),
    "Workflows": obj(
        {"available": {"type": "boolean"}, "total": INT, "items": array(ref("Workflow"))}
    ),
    "WorkflowAnswer": obj({"workflow": ref("Workflow"), "steps": array(ref("WorkflowStep"))}),
    "WorkflowActionAnswer": {
        "type": "object",
        "properties": {
            "workflow": ref("Workflow"),
            "audit": ref("AuditEntry"),
            "error": obj({"code": STR, "message": STR}),
        },
        "required": ["audit"],
        "additionalProperties": False,
    },
    "WorkflowBody": {
        "type": "object",
        "properties": {
            "why": _WHY,
            "operator": _OPERATOR,
            "from_step": nullable({"type": "integer", "minimum": 0, "maximum": 1_000_000}),
            "new_id": nullable({"type": "string", "minLength": 1, "maxLength": 200}),
        },
        "required": ["why"],
        "additionalProperties": False,
    },
}


def workflow_paths(
    get: Any, post: Any, path_param: Any, int_param: Any, text_param: Any
) -> dict[str, Any]:
    """The workflow paths, built with the document's own helpers."""
    wid = path_param("workflow_id", "Workflow id")
    action = {"name": "action", "in": "path", "required": True, "description": "What to do",
              "schema": {"type": "string", "enum": ["cancel", "resume", "retry"]}}  # fmt: skip
    status = {"name": "status", "in": "query", "required": False, "description": "Only this status",
              "schema": _STATUS}  # fmt: skip
    body_errors = ("400", "401", "403", "413", "415", "422")
    return {
        "/api/workflows": get(
            "Stored workflows (finished ones too), newest first",
            ref("Workflows"),
            [
                status,
                text_param("name", "Only workflows of this name"),
                int_param(
                    "max_age", 315_360_000, 1, 315_360_000, "Created at most this many s ago"
                ),
                int_param("limit", 100, 1, 10_000, "Workflows to return"),
            ],
            ("400",),
            "workflows",
        ),
        "/api/workflows/{workflow_id}": get(
            "One workflow and its recorded steps",
            ref("WorkflowAnswer"),
            [wid, int_param("limit", 1000, 1, 100_000, "Steps to return (the first ones)")],
            ("400", "404", "409"),
            "workflows",
        ),
        "/api/workflows/{workflow_id}/{action}": post(
            "Cancel, resume, or retry (from_step: fork from that step) a workflow",
            "WorkflowBody",
            ref("WorkflowActionAnswer"),
            [wid, action],
            (*body_errors, "404", "409"),
        ),
    }

"""JSON schemas of the flag and rollout answers and bodies (OpenAPI components)."""

from __future__ import annotations

from typing import Any

from bastion.console._schemas import BOOL, INT, NUM, STR, array, nullable, obj, ref

__all__ = ["ROLLOUT_SCHEMAS"]

_ANY: dict[str, Any] = {}  # a JSON value of any type (a flag variant's value)
_WHY = {"type": "string", "minLength": 1, "maxLength": 500}
_OPERATOR = nullable({"type": "string", "minLength": 1, "maxLength": 100})
_RULE = {
    "type": "object",
    "properties": {
        "variant": STR,
        "keys": array(STR),
        "attribute": STR,
        "values": array(_ANY),
        "negate": BOOL,
    },
    "required": ["variant"],
    "additionalProperties": False,
}
_FLAG_FIELDS = {
    "key": STR,
    "variants": {"type": "object", "additionalProperties": _ANY},
    "default": STR,
    "canary": nullable(STR),
    "percentage": NUM,
    "rules": array(_RULE),
    "split": {"type": "object", "additionalProperties": NUM},
    "enabled": BOOL,
    "salt": STR,
    "description": STR,
}
_CHANGE = obj(
    {
        "format": INT,
        "key": STR,
        "seq": INT,
        "action": {"type": "string", "enum": ["define", "set", "set_percentage", "kill"]},
        "actor": STR,
        "reason": STR,
        "at": NUM,
        "before": nullable(obj(_FLAG_FIELDS)),
        "after": obj(_FLAG_FIELDS),
    }
)
_STATUS = obj(
    {
        "flag": STR,
        "status": STR,
        "attempt": INT,
        "phase": INT,
        "phases": array(NUM),
        "percent": NUM,
        "phase_started": NUM,
        "phase_canary_calls": INT,
        "min_canary_calls": INT,
        "reason": STR,
        "journal_length": INT,
        "last_tick": NUM,
    }
)
_EVIDENCE = obj(
    {
        "signal": STR,
        "statistic": NUM,
        "threshold": NUM,
        "alpha": NUM,
        "p_value": NUM,
        "canary_events": INT,
        "canary_exposure": INT,
        "baseline_events": INT,
        "baseline_exposure": INT,
        "alarm": BOOL,
    }
)
_ENTRY = obj(
    {
        "seq": INT,
        "at": NUM,
        "attempt": INT,
        "action": STR,
        "actor": STR,
        "reason": STR,
        "from_status": STR,
        "to_status": STR,
        "phase": INT,
        "percent": NUM,
        "evidence": array(ref("Evidence")),
    }
)
_ERROR = obj({"code": STR, "message": STR})


def _answer(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {**properties, "error": _ERROR},
        "required": required,
        "additionalProperties": False,
    }


ROLLOUT_SCHEMAS: dict[str, Any] = {
    "Flag": obj({**_FLAG_FIELDS, "version": INT}),
    "FlagChange": _CHANGE,
    "Flags": obj({"available": BOOL, "items": array(ref("Flag"))}),
    "FlagAnswer": obj({"flag": ref("Flag"), "history": array(ref("FlagChange"))}),
    "FlagSetAnswer": _answer(
        {"flag": ref("Flag"), "changes": array(ref("FlagChange")), "audit": ref("AuditEntry")},
        ["flag", "changes", "audit"],
    ),
    "FlagBody": {
        "type": "object",
        "properties": {
            "why": _WHY,
            "operator": _OPERATOR,
            "percentage": {"type": "number", "minimum": 0, "maximum": 100},
            "enabled": BOOL,
        },
        "required": ["why"],
        "anyOf": [{"required": ["percentage"]}, {"required": ["enabled"]}],
        "additionalProperties": False,
    },
    "RolloutStatus": _STATUS,
    "Evidence": _EVIDENCE,
    "JournalEntry": _ENTRY,
    "Rollouts": obj({"items": array(ref("RolloutStatus"))}),
    "RolloutAnswer": obj(
        {
            "status": ref("RolloutStatus"),
            "evidence": array(ref("Evidence")),
            "journal": array(ref("JournalEntry")),
        }
    ),
    "RolloutActionAnswer": _answer(
        {"status": ref("RolloutStatus"), "audit": ref("AuditEntry")},
        ["audit"],
    ),
    "RolloutBody": {
        "type": "object",
        "properties": {"why": _WHY, "operator": _OPERATOR, "force": BOOL},
        "required": ["why"],
        "additionalProperties": False,
    },
}

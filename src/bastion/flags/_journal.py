"""The audited change journal: :class:`FlagChange` and how flags are stored as JSON.

Each flag lives in its own store namespace ``"<namespace>/<key>"``: the record
``"flag"`` holds the current definition, the collection ``"journal"`` one item per
change, keyed by the zero-padded sequence number (which equals the record's version
after the change). A change writes both in one atomic batch with compare-and-set on the
record, so the journal never misses or duplicates an entry, even with two writers.

Stored JSON is checked field by field on load; anything unexpected raises
:class:`FlagDataError` (internal) with a one-line reason, and the flag is quarantined.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, fields
from typing import Any

import msgspec

from bastion.flags._model import Flag, Rule, check_text

__all__ = [
    "FORMAT",
    "ChangeAction",
    "check_audit_text",
    "FlagChange",
    "FlagDataError",
    "decode_change",
    "decode_flag",
    "encode_change",
    "encode_flag",
    "flag_to_dict",
    "journal_item",
]

#: Version of the stored JSON layout; data with another version is quarantined.
FORMAT = 1


class FlagDataError(ValueError):
    """Stored flag data could not be decoded (internal; surfaces as FlagStoreCorrupt)."""


class ChangeAction(enum.StrEnum):
    """What a journal entry did to its flag."""

    DEFINE = "define"  # created (or re-created after a quarantine)
    SET = "set"  # fields changed with Flags.set
    SET_PERCENTAGE = "set_percentage"  # the canary percentage changed (the rollout knob)
    KILL = "kill"  # the kill switch: enabled=False


@dataclass(frozen=True, slots=True)
class FlagChange:
    """One journal entry: who changed which flag, when, why, and what it was before.

    ``seq`` counts the flag's changes from 1 (its definition); ``at`` is the service's
    clock (wall-clock seconds by default); ``before`` is ``None`` for a definition.
    """

    key: str
    seq: int
    action: ChangeAction
    actor: str
    reason: str
    at: float
    before: Flag | None
    after: Flag

    def changed_fields(self) -> dict[str, tuple[Any, Any]]:
        """``{field: (before, after)}`` for every field the change altered."""
        if self.before is None:
            return {}
        out = {}
        for f in fields(Flag):
            old, new = getattr(self.before, f.name), getattr(self.after, f.name)
            if old != new:
                out[f.name] = (_plain(old), _plain(new))
        return out

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the stored form)."""
        return {
            "format": FORMAT,
            "key": self.key,
            "seq": self.seq,
            "action": self.action.value,
            "actor": self.actor,
            "reason": self.reason,
            "at": self.at,
            "before": None if self.before is None else flag_to_dict(self.before),
            "after": flag_to_dict(self.after),
        }


def check_audit_text(what: str, text: object, longest: int) -> str:
    """``text`` if it is a usable actor or reason: non-empty, bounded, storable."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{what} must be a non-empty str (the journal records who and why)")
    if len(text) > longest:
        raise ValueError(f"{what} must be at most {longest} characters")
    return check_text(what, text)


def journal_item(seq: int) -> str:
    """The collection item key of entry ``seq`` (zero-padded so items sort by seq)."""
    return f"{seq:012d}"


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):  # rules
        return [_rule_to_dict(r) if isinstance(r, Rule) else r for r in value]
    if hasattr(value, "items"):
        return dict(value)
    return value


def _rule_to_dict(rule: Rule) -> dict[str, Any]:
    if rule.attribute is None:
        return {"variant": rule.variant, "keys": list(rule.keys)}
    return {
        "variant": rule.variant,
        "attribute": rule.attribute,
        "values": list(rule.values),
        "negate": rule.negate,
    }


def flag_to_dict(flag: Flag) -> dict[str, Any]:
    """The stored (and ``--json``) form of a flag definition."""
    return {
        "key": flag.key,
        "variants": dict(flag.variants),
        "default": flag.default,
        "canary": flag.canary,
        "percentage": flag.percentage,
        "rules": [_rule_to_dict(r) for r in flag.rules],
        "split": dict(flag.split),
        "enabled": flag.enabled,
        "salt": flag.salt,
        "description": flag.description,
    }


def encode_flag(flag: Flag) -> bytes:
    """A flag definition as stored JSON bytes."""
    return msgspec.json.encode({"format": FORMAT, **flag_to_dict(flag)})


def encode_change(change: FlagChange) -> bytes:
    """A journal entry as stored JSON bytes."""
    return msgspec.json.encode(change.as_dict())


def _load(data: bytes, what: str) -> dict[str, Any]:
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise FlagDataError(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise FlagDataError(f"{what} is not a JSON object")
    if raw.get("format") != FORMAT:
        raise FlagDataError(f"{what} has format {raw.get('format')!r}; this code reads {FORMAT}")
    return raw


def _field(raw: dict[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    if name not in raw:
        raise FlagDataError(f"{what} lacks the field {name!r}")
    value = raw[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
        raise FlagDataError(f"{what}: field {name!r} has the wrong type ({value!r})")
    return value


def flag_from_dict(raw: dict[str, Any], what: str) -> Flag:
    """Build a flag from its stored dict; any problem is a :class:`FlagDataError`."""
    try:
        rules = tuple(_rule_from_dict(r, what) for r in _field(raw, "rules", list, what))
        return Flag(
            key=_field(raw, "key", str, what),
            variants=_field(raw, "variants", dict, what),
            default=_field(raw, "default", str, what),
            canary=_field(raw, "canary", (str, type(None)), what),
            percentage=_field(raw, "percentage", (int, float), what),
            rules=rules,
            split=_field(raw, "split", dict, what),
            enabled=_field(raw, "enabled", bool, what),
            salt=_field(raw, "salt", str, what),
            description=_field(raw, "description", str, what),
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, FlagDataError):
            raise
        raise FlagDataError(f"{what} is not a valid flag: {exc}") from None


def _rule_from_dict(raw: object, what: str) -> Rule:
    if not isinstance(raw, dict):
        raise FlagDataError(f"{what}: a rule is not a JSON object")
    if "keys" in raw:
        return Rule(_field(raw, "variant", str, what), keys=tuple(_field(raw, "keys", list, what)))
    return Rule(
        _field(raw, "variant", str, what),
        attribute=_field(raw, "attribute", str, what),
        values=tuple(_field(raw, "values", list, what)),
        negate=_field(raw, "negate", bool, what),
    )


def decode_flag(data: bytes, key: str) -> Flag:
    """The flag stored under ``key``; it must name itself ``key``."""
    what = f"the stored definition of flag {key!r}"
    flag = flag_from_dict(_load(data, what), what)
    if flag.key != key:
        raise FlagDataError(f"{what} names another flag ({flag.key!r})")
    return flag


def decode_change(data: bytes, key: str, seq: int) -> FlagChange:
    """Journal entry ``seq`` of flag ``key``."""
    what = f"journal entry {seq} of flag {key!r}"
    raw = _load(data, what)
    before = _field(raw, "before", (dict, type(None)), what)
    at = _field(raw, "at", (int, float), what)
    if _field(raw, "key", str, what) != key or _field(raw, "seq", int, what) != seq:
        raise FlagDataError(f"{what} names another flag or position")
    try:
        action = ChangeAction(_field(raw, "action", str, what))
    except ValueError:
        raise FlagDataError(f"{what} has an unknown action {raw['action']!r}") from None
    if not math.isfinite(at):
        raise FlagDataError(f"{what} has a non-finite time")
    return FlagChange(
        key=key,
        seq=seq,
        action=action,
        actor=_field(raw, "actor", str, what),
        reason=_field(raw, "reason", str, what),
        at=float(at),
        before=None if before is None else flag_from_dict(before, what),
        after=flag_from_dict(_field(raw, "after", dict, what), what),
    )

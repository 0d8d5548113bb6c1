"""Encoding and decoding of a persistent agent's state (the ``state`` record and items).

The ``state`` record holds the small fields::

    {"v": <state_version>, "type": <state_type>, "fields": {"name": value, ...}}

Each :class:`ItemMap` field is a collection of the same name, one row per item, so
changing one item writes one row. Decoding checks the version (newer: unknown;
older: the agent's ``migrate_state`` hook) and raises :class:`CorruptState` when the
record as a whole is unusable, which the agent turns into a quarantine of the namespace.
A single field or item that does not decode is *rejected* instead: the others are
restored, and the agent keeps the rejected bytes aside (:attr:`Restored.rejected`).

:func:`check_record` runs the same per-field decoding at save time, so a value that
would not come back is refused before it is acknowledged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from bastion.agents._state import StateField
from bastion.persistence import Codec, CorruptState, NamespaceData, UnknownStateVersion

__all__ = [
    "Rejected",
    "Restored",
    "check_record",
    "decode_state",
    "encode_fields",
    "quarantined_record",
    "record_type",
]

STATE_KEY = "state"


class _Envelope(msgspec.Struct):
    v: int
    type: str
    fields: dict[str, msgspec.Raw]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A stored field (``item`` None) or ItemMap item that did not decode, and why."""

    field: str
    item: str | None
    data: bytes
    error: CorruptState

    @property
    def key(self) -> str:
        """``field`` or ``collection/item``: where the value lived."""
        return self.field if self.item is None else f"{self.field}/{self.item}"


@dataclass(frozen=True, slots=True)
class Restored:
    """Decoded state: small fields, ItemMap contents, the record version, item count.

    ``rejected`` lists the fields and items that did not decode; they are left out of
    ``fields`` / ``items`` (the agent keeps their defaults).
    """

    fields: dict[str, Any]
    items: dict[str, dict[str, Any]]
    version: int
    item_count: int
    migrated_from: int | None
    rejected: list[Rejected]


def _untyped(type_: Any) -> bool:
    return type_ is Any or type_ is object


def record_type(scalars: Mapping[str, StateField]) -> Any:
    """A msgspec type that decodes a valid ``state`` record of these fields in one call."""
    fields = msgspec.defstruct(
        "Fields", [(n, Any if _untyped(f.type) else f.type) for n, f in scalars.items()]
    )
    return msgspec.defstruct("StateRecord", [("v", int), ("type", str), ("fields", fields)])


def check_record(
    codec: Codec, record: bytes, scalars: Mapping[str, StateField], fast_type: Any
) -> list[Rejected]:
    """The fields of ``record`` that restore would reject (empty when all decode).

    ``fast_type`` (from :func:`record_type`) validates the whole record in one call; only
    if that fails are the fields decoded one by one, as restore does, to name them.
    """
    try:
        codec.decode(record, fast_type)
    except CorruptState:
        return _decode_fields(_envelope(record), codec, scalars)[1]
    return []


def encode_fields(
    codec: Codec, version: int, state_type: str, values: Mapping[str, tuple[StateField, Any]]
) -> bytes:
    """The ``state`` record bytes for the given small fields."""
    fields = {
        name: codec.to_builtins(value) if _untyped(f.type) else value
        for name, (f, value) in values.items()
    }
    return codec.encode({"v": version, "type": state_type, "fields": fields}, dict)


def decode_state(
    data: NamespaceData,
    codec: Codec,
    *,
    version: int,
    state_type: str,
    scalars: Mapping[str, StateField],
    collections: Mapping[str, StateField],
    migrate: Callable[[int, dict[str, Any]], dict[str, Any]],
) -> Restored:
    """Decode a namespace into field values, field by field and item by item.

    Raises :class:`CorruptState` if the record as a whole is unusable (not a state record,
    another agent type, a newer version, a failed migration).
    """
    record = data.records.get(STATE_KEY)
    fields: dict[str, Any] = {}
    rejected: list[Rejected] = []
    migrated: int | None = None
    if record is not None:
        env = _envelope(record.data)
        if env.type != state_type:
            raise CorruptState(
                f"the stored state belongs to agent type {env.type!r}, not {state_type!r}"
            )
        if env.v > version:
            raise UnknownStateVersion(
                f"stored state version {env.v} is newer than this code's {version}"
            )
        if env.v < version:
            fields, rejected = _migrate(env, codec, scalars, migrate)
            migrated = env.v
        else:
            fields, rejected = _decode_fields(env, codec, scalars)
    items: dict[str, dict[str, Any]] = {}
    count = 0
    for name, f in collections.items():
        rows = data.collections.get(name, [])
        items[name] = _decode_items(codec, name, f, rows, rejected)
        count += len(items[name])
    return Restored(fields, items, record.version if record else 0, count, migrated, rejected)


def _decode_fields(
    env: _Envelope, codec: Codec, scalars: Mapping[str, StateField]
) -> tuple[dict[str, Any], list[Rejected]]:
    fields: dict[str, Any] = {}
    rejected: list[Rejected] = []
    for name, raw in env.fields.items():
        if name not in scalars:
            continue
        try:
            fields[name] = codec.decode(bytes(raw), scalars[name].type)
        except CorruptState as exc:
            rejected.append(Rejected(name, None, bytes(raw), exc))
    return fields, rejected


def _decode_items(
    codec: Codec, name: str, f: StateField, rows: list[tuple[str, bytes]], rejected: list[Rejected]
) -> dict[str, Any]:
    """All rows in one decode call; if that fails, row by row, rejecting the bad ones."""
    list_type = Any if _untyped(f.item_type) else list[f.item_type]  # type: ignore[name-defined]
    try:
        values = codec.decode(b"[" + b",".join(d for _, d in rows) + b"]", list_type)
        return dict(zip((k for k, _ in rows), values, strict=True))
    except CorruptState:
        pass
    items: dict[str, Any] = {}
    for key, data in rows:
        try:
            items[key] = codec.decode(data, f.item_type)
        except CorruptState as exc:
            rejected.append(Rejected(name, key, data, exc))
    return items


def _envelope(data: bytes) -> _Envelope:
    try:
        return msgspec.json.decode(data, type=_Envelope)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CorruptState(f"undecodable state record ({exc})") from exc


def _migrate(
    env: _Envelope,
    codec: Codec,
    scalars: Mapping[str, StateField],
    migrate: Callable[[int, dict[str, Any]], dict[str, Any]],
) -> tuple[dict[str, Any], list[Rejected]]:
    raw = {n: msgspec.json.decode(bytes(r)) for n, r in env.fields.items()}
    try:
        new = migrate(env.v, raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptState(f"migrating state from version {env.v} failed: {exc!r}") from exc
    fields: dict[str, Any] = {}
    rejected: list[Rejected] = []
    for name, value in new.items():
        if name not in scalars:
            continue
        try:
            fields[name] = codec.convert(value, scalars[name].type)
        except CorruptState as exc:
            rejected.append(Rejected(name, None, msgspec.json.encode(value), exc))
    return fields, rejected


def quarantined_record(rejected: Rejected) -> bytes:
    """The record that keeps a rejected value aside: its bytes, the error and when."""
    error = f"{type(rejected.error).__name__}: {rejected.error}"
    data = rejected.data.decode("utf-8", "replace")
    return msgspec.json.encode({"error": error, "at": time.time(), "data": data})

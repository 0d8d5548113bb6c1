"""Encoding and decoding of a persistent agent's state (the ``state`` record and items).

The ``state`` record holds the small fields::

    {"v": <state_version>, "type": <state_type>, "fields": {"name": value, ...}}

Each :class:`ItemMap` field is a collection of the same name, one row per item, so
changing one item writes one row. Decoding checks the version (newer: unknown;
older: the agent's ``migrate_state`` hook) and raises :class:`CorruptState` on any
shape error, which the agent turns into a quarantine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from bastion.agents._state import StateField
from bastion.persistence import Codec, CorruptState, NamespaceData, UnknownStateVersion

__all__ = ["Restored", "decode_state", "encode_fields"]

STATE_KEY = "state"


class _Envelope(msgspec.Struct):
    v: int
    type: str
    fields: dict[str, msgspec.Raw]


@dataclass(frozen=True, slots=True)
class Restored:
    """Decoded state: small fields, ItemMap contents, the record version, item count."""

    fields: dict[str, Any]
    items: dict[str, dict[str, Any]]
    version: int
    item_count: int
    migrated_from: int | None


def encode_fields(codec: Codec, version: int, state_type: str,
                  values: Mapping[str, tuple[StateField, Any]]) -> bytes:
    """The ``state`` record bytes for the given small fields."""
    fields = {
        name: codec.to_builtins(value) if f.type is Any else value
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
    """Decode a namespace into field values; CorruptState if anything does not fit."""
    record = data.records.get(STATE_KEY)
    fields: dict[str, Any] = {}
    migrated: int | None = None
    if record is not None:
        env = _envelope(record.data)
        if env.type != state_type:
            raise CorruptState(f"the stored state belongs to agent type {env.type!r}, "
                               f"not {state_type!r}")
        if env.v > version:
            raise UnknownStateVersion(
                f"stored state version {env.v} is newer than this code's {version}")
        if env.v < version:
            fields, migrated = _migrate(env, codec, scalars, migrate), env.v
        else:
            fields = {n: codec.decode(bytes(raw), scalars[n].type)
                      for n, raw in env.fields.items() if n in scalars}
    items: dict[str, dict[str, Any]] = {}
    count = 0
    for name, f in collections.items():
        rows = data.collections.get(name, [])
        count += len(rows)
        list_type = Any if f.item_type is Any else list[f.item_type]  # type: ignore[name-defined]
        values = codec.decode(b"[" + b",".join(d for _, d in rows) + b"]", list_type)
        items[name] = dict(zip((k for k, _ in rows), values, strict=True))
    return Restored(fields, items, record.version if record else 0, count, migrated)


def _envelope(data: bytes) -> _Envelope:
    try:
        return msgspec.json.decode(data, type=_Envelope)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CorruptState(f"undecodable state record ({exc})") from exc


def _migrate(env: _Envelope, codec: Codec, scalars: Mapping[str, StateField],
             migrate: Callable[[int, dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    raw = {n: msgspec.json.decode(bytes(r)) for n, r in env.fields.items()}
    try:
        new = migrate(env.v, raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptState(f"migrating state from version {env.v} failed: {exc!r}") from exc
    return {n: codec.convert(v, scalars[n].type) for n, v in new.items() if n in scalars}

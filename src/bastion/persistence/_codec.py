"""The state codec: msgspec JSON with hooks, never pickle.

Two paths:

* **typed** (``encode(value, SomeType)`` / ``decode(data, SomeType)``): msgspec encodes
  and validates against the declared type; tuples, sets, frozensets, datetimes,
  ``Decimal``, ``UUID``, dataclasses and msgspec Structs come back as themselves,
  ``deque`` through a built-in hook, other classes through :meth:`Codec.register`.
* **untyped** (type ``Any`` or ``object``): values are written as a self-describing tree where every
  non-JSON value is tagged ``{"$t": name, "v": ...}``, so a tuple inside an ``Any`` payload
  still comes back as a tuple.

Bytes that do not decode raise :class:`CorruptState`; values without a hook raise
:class:`UnsupportedType` at encode time, never later. NaN and ±infinity are refused at
encode time with :class:`UnstorableValue`: JSON has no such numbers (msgspec would write
``null``, which comes back as ``None`` or does not decode at all), so storing them would
acknowledge a value that cannot be restored.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime as dt
import decimal
import math
import re
import typing
import uuid
from collections.abc import Callable
from typing import Any

import msgspec

from bastion.persistence._errors import CorruptState, UnstorableValue, UnsupportedType

__all__ = ["Codec", "default_codec"]

_TAG = "$t"
#: A msgpack float64 (0xcb, then 8 bytes big-endian) with every exponent bit set: NaN or ±inf.
_NON_FINITE_F64 = re.compile(rb"\xcb[\x7f\xff][\xf0-\xff]")
_SCALARS = (str, int, float, bool, type(None))


@dataclasses.dataclass(frozen=True, slots=True)
class _Hook:
    name: str
    cls: type[Any]
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


class Codec:
    """Encodes state values to JSON bytes and back. Safe to share between stores."""

    def __init__(self) -> None:
        self._by_type: dict[type[Any], _Hook] = {}
        self._by_name: dict[str, _Hook] = {}
        self._decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
        self._encoder = msgspec.json.Encoder(enc_hook=self._enc_hook)
        self._packer = msgspec.msgpack.Encoder(enc_hook=self._enc_hook)

    def register(
        self,
        cls: type[Any],
        *,
        encode: Callable[[Any], Any],
        decode: Callable[[Any], Any],
        name: str | None = None,
    ) -> None:
        """Teach the codec a class: ``encode(obj)`` gives JSON-able data, ``decode`` inverts it.

        ``name`` (default ``module.QualName``) is written into untyped data, so keep it
        stable across releases.
        """
        key = name or f"{cls.__module__}.{cls.__qualname__}"
        if key in self._by_name and self._by_name[key].cls is not cls:
            raise ValueError(f"codec name {key!r} is registered for another class already")
        hook = _Hook(key, cls, encode, decode)
        self._by_type[cls] = hook
        self._by_name[key] = hook
        self._decoders.clear()

    def register_struct(self, cls: type[Any], *, name: str | None = None) -> None:
        """Register a dataclass or msgspec Struct by name, for use inside untyped values."""
        self.register(
            cls,
            encode=msgspec.to_builtins,
            decode=lambda obj: msgspec.convert(obj, cls, dec_hook=self._dec_hook),
            name=name,
        )

    def encode(self, value: Any, type_: Any = Any) -> bytes:
        """Encode ``value``; with the default ``type_=Any`` non-JSON values are tagged."""
        try:
            untyped = type_ is Any or type_ is object
            tree = self._tag(value) if untyped else value
            data = self._encoder.encode(tree)
            # msgspec writes NaN and ±inf as null: look closer, cheaply first
            if b"null" in data and self._may_hold_non_finite(tree):
                _refuse_non_finite(tree if untyped else self._builtins(value))
            return data
        except (UnsupportedType, UnstorableValue):
            raise
        except (TypeError, ValueError, OverflowError) as exc:
            raise UnsupportedType(f"cannot encode {type(value).__name__}: {exc}") from exc

    def decode(self, data: bytes, type_: Any = Any) -> Any:
        """Decode bytes written by :meth:`encode` with the same ``type_``."""
        try:
            if type_ is Any or type_ is object:
                return self._untag(msgspec.json.decode(data))
            return self._decoder(type_).decode(data)
        except CorruptState:
            raise
        except (
            msgspec.DecodeError,
            msgspec.ValidationError,
            TypeError,
            ValueError,
            KeyError,
            decimal.InvalidOperation,
        ) as exc:
            raise CorruptState(f"undecodable state ({exc})", context={"type": repr(type_)}) from exc

    def convert(self, obj: Any, type_: Any = Any) -> Any:
        """Convert JSON-able builtins (as decoded, or from a migration) to ``type_``."""
        try:
            if type_ is Any or type_ is object:
                return self._untag(obj)
            return msgspec.convert(obj, type_, dec_hook=self._dec_hook)
        except CorruptState:
            raise
        except (
            msgspec.ValidationError,
            TypeError,
            ValueError,
            KeyError,
            decimal.InvalidOperation,
        ) as exc:
            raise CorruptState(
                f"unconvertible state ({exc})", context={"type": repr(type_)}
            ) from exc

    def to_builtins(self, value: Any) -> Any:
        """Tag ``value`` into JSON-able builtins (the untyped tree, not yet encoded)."""
        return self._tag(value)

    def from_builtins(self, obj: Any) -> Any:
        """Invert :meth:`to_builtins`."""
        try:
            return self._untag(obj)
        except (TypeError, ValueError, KeyError, decimal.InvalidOperation) as exc:
            raise CorruptState(f"undecodable state ({exc})") from exc

    def _may_hold_non_finite(self, tree: Any) -> bool:
        """False only if ``tree`` surely holds no NaN or infinity (one C-speed pass).

        msgpack writes every float as a float64, so a non-finite one leaves a byte pattern;
        the same bytes inside a string or binary only cost the exact walk that follows.
        """
        try:
            packed = self._packer.encode(tree)
        except (TypeError, ValueError, OverflowError, UnsupportedType):
            return True
        return _NON_FINITE_F64.search(packed) is not None

    # -- typed path hooks ------------------------------------------------------------

    def _builtins(self, value: Any) -> Any:
        return msgspec.to_builtins(value, enc_hook=self._enc_hook)

    def _decoder(self, type_: Any) -> msgspec.json.Decoder[Any]:
        dec = self._decoders.get(type_)
        if dec is None:
            dec = msgspec.json.Decoder(type_, dec_hook=self._dec_hook)
            self._decoders[type_] = dec
        return dec

    def _enc_hook(self, obj: Any) -> Any:
        if isinstance(obj, collections.deque):
            return list(obj)
        hook = self._by_type.get(type(obj))
        if hook is not None:
            return hook.encode(obj)
        raise UnsupportedType(
            f"no codec hook for {type(obj).__module__}.{type(obj).__qualname__}; "
            "register one with Codec.register()"
        )

    def _dec_hook(self, type_: Any, obj: Any) -> Any:
        origin = typing.get_origin(type_) or type_
        if origin is collections.deque:
            args = typing.get_args(type_)
            target: Any = list[args[0]] if args else list  # type: ignore[valid-type]
            items = msgspec.convert(obj, target, dec_hook=self._dec_hook)
            return collections.deque(items)
        hook = self._by_type.get(origin)
        if hook is not None:
            return hook.decode(obj)
        raise TypeError(f"no codec hook to decode {type_!r}")

    # -- untyped path ----------------------------------------------------------------

    def _tag(self, value: Any) -> Any:
        if isinstance(value, _SCALARS):
            return value
        if type(value) is list:
            return [self._tag(v) for v in value]
        if type(value) is dict:
            return self._tag_dict(value)
        return self._tag_other(value)

    def _tag_dict(self, value: dict[Any, Any]) -> Any:
        if _TAG not in value and all(type(k) is str for k in value):
            return {k: self._tag(v) for k, v in value.items()}
        return {_TAG: "dict", "v": [[self._tag(k), self._tag(v)] for k, v in value.items()]}

    def _tag_other(self, value: Any) -> Any:
        hook = self._by_type.get(type(value))
        if hook is not None:
            return {_TAG: hook.name, "v": self._tag(hook.encode(value))}
        for cls, name, conv in _BUILTIN_TAGS:
            if isinstance(value, cls):
                return {_TAG: name, "v": conv(self, value)}
        raise UnsupportedType(
            f"no codec hook for {type(value).__module__}.{type(value).__qualname__}; "
            "register one with Codec.register() or Codec.register_struct()"
        )

    def _untag(self, obj: Any) -> Any:
        if type(obj) is list:
            return [self._untag(v) for v in obj]
        if type(obj) is not dict:
            return obj
        name = obj.get(_TAG)
        if name is None:
            return {k: self._untag(v) for k, v in obj.items()}
        builtin = _BUILTIN_UNTAGS.get(name)
        if builtin is not None:
            return builtin(self, obj["v"])
        hook = self._by_name.get(name)
        if hook is None:
            raise CorruptState(f"unknown type tag {name!r} in stored state")
        return hook.decode(self._untag(obj["v"]))


def _refuse_non_finite(tree: Any, path: str = "$") -> None:
    """Raise :class:`UnstorableValue` naming the first NaN or infinity in a builtins tree."""
    if type(tree) is float:
        if not math.isfinite(tree):
            raise UnstorableValue(
                f"{tree!r} at {path} cannot be stored: JSON has no NaN or infinity "
                "(store None, a sentinel or a string instead)",
                context={"path": path},
            )
    elif isinstance(tree, list | tuple):
        for i, v in enumerate(tree):
            _refuse_non_finite(v, f"{path}[{i}]")
    elif isinstance(tree, dict):
        for k, v in tree.items():
            _refuse_non_finite(v, f"{path}.{k}")


def _items(codec: Codec, value: Any) -> list[Any]:
    return [codec._tag(v) for v in value]


def _untag_items(codec: Codec, value: Any) -> list[Any]:
    return [codec._untag(v) for v in value]


_BUILTIN_TAGS: tuple[tuple[type[Any], str, Callable[[Codec, Any], Any]], ...] = (
    (tuple, "tuple", _items),
    (frozenset, "frozenset", _items),
    (set, "set", _items),
    (collections.deque, "deque", lambda c, v: {"items": _items(c, v), "maxlen": v.maxlen}),
    (dt.datetime, "datetime", lambda c, v: v.isoformat()),
    (dt.date, "date", lambda c, v: v.isoformat()),
    (dt.timedelta, "timedelta", lambda c, v: v.total_seconds()),
    (decimal.Decimal, "decimal", lambda c, v: str(v)),
    (uuid.UUID, "uuid", lambda c, v: str(v)),
    (bytes, "bytes", lambda c, v: base64.b64encode(v).decode("ascii")),
    (list, "list", _items),  # list subclasses
    (dict, "dict", lambda c, v: [[c._tag(k), c._tag(x)] for k, x in v.items()]),
)

_BUILTIN_UNTAGS: dict[str, Callable[[Codec, Any], Any]] = {
    "tuple": lambda c, v: tuple(_untag_items(c, v)),
    "frozenset": lambda c, v: frozenset(_untag_items(c, v)),
    "set": lambda c, v: set(_untag_items(c, v)),
    "deque": lambda c, v: collections.deque(_untag_items(c, v["items"]), v["maxlen"]),
    "datetime": lambda c, v: dt.datetime.fromisoformat(v),
    "date": lambda c, v: dt.date.fromisoformat(v),
    "timedelta": lambda c, v: dt.timedelta(seconds=v),
    "decimal": lambda c, v: decimal.Decimal(v),
    "uuid": lambda c, v: uuid.UUID(v),
    "bytes": lambda c, v: base64.b64decode(v),
    "list": _untag_items,
    "dict": lambda c, v: {c._untag(k): c._untag(x) for k, x in v},
}

_DEFAULT = Codec()


def default_codec() -> Codec:
    """The process-wide codec used when none is given; register shared hooks on it."""
    return _DEFAULT

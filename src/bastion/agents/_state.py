"""Declared agent state: annotated class attributes with defaults, and ``ItemMap``.

::

    class Counter(Agent):
        count: int = 0                   # declared state, a fresh copy per instance
        seen: set[str] = set()
        orders: ItemMap[Order] = ItemMap()  # a keyed collection, persisted item by item
"""

from __future__ import annotations

import copy
import functools
import inspect
import typing
from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

__all__ = ["ItemMap", "StateField", "declared_state"]

V = TypeVar("V")
#: Defaults shared by every instance as they are (nothing to copy).
_IMMUTABLE = (int, float, str, bool, bytes, type(None), tuple, frozenset)


class ItemMap(Generic[V]):
    """A ``str``-keyed mapping that records which keys changed since the last save.

    A :class:`~bastion.agents.PersistentAgent` writes only the changed items, so the
    cost of a mutation does not depend on how many items the map holds. After mutating
    a value in place, call :meth:`touch` so the change is saved.
    """

    __slots__ = ("_data", "_deleted", "_dirty")

    def __init__(self) -> None:
        self._data: dict[str, V] = {}
        self._dirty: set[str] = set()
        self._deleted: set[str] = set()

    def __getitem__(self, key: str) -> V:
        return self._data[key]

    def __setitem__(self, key: str, value: V) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ItemMap keys are str, got {type(key).__name__}")
        self._data[key] = value
        self._dirty.add(key)
        self._deleted.discard(key)

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._dirty.discard(key)
        self._deleted.add(key)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __repr__(self) -> str:
        return f"ItemMap({len(self._data)} items)"

    def get(self, key: str, default: V | None = None) -> V | None:
        """The value for ``key``, or ``default``."""
        return self._data.get(key, default)

    def pop(self, key: str) -> V:
        """Remove and return the value for ``key`` (KeyError if absent)."""
        value = self._data[key]
        del self[key]
        return value

    def touch(self, key: str) -> None:
        """Mark ``key`` changed after its value was mutated in place."""
        if key not in self._data:
            raise KeyError(key)
        self._dirty.add(key)

    def keys(self) -> KeysView[str]:
        """The keys."""
        return self._data.keys()

    def values(self) -> ValuesView[V]:
        """The values."""
        return self._data.values()

    def items(self) -> ItemsView[str, V]:
        """The ``(key, value)`` pairs."""
        return self._data.items()

    def clear(self) -> None:
        """Remove every item (each one is deleted from the store on the next save)."""
        self._deleted.update(self._data)
        self._dirty.clear()
        self._data.clear()

    def drain_changes(self) -> tuple[list[tuple[str, V]], list[str]]:
        """Changed ``(key, value)`` pairs and deleted keys since the last call; resets them."""
        dirty = [(k, self._data[k]) for k in self._dirty]
        deleted = list(self._deleted)
        self._dirty.clear()
        self._deleted.clear()
        return dirty, deleted

    def load(self, items: dict[str, V]) -> None:
        """Replace the contents without recording changes (used on restore)."""
        self._data = items
        self._dirty.clear()
        self._deleted.clear()

    @property
    def changed(self) -> bool:
        """Whether there are unsaved changes."""
        return bool(self._dirty or self._deleted)


@dataclass(frozen=True, slots=True)
class StateField:
    """One declared state field: its name, type and class-level default."""

    name: str
    type: Any
    default: Any

    @property
    def is_item_map(self) -> bool:
        """Whether the field is an :class:`ItemMap` (persisted item by item)."""
        return (typing.get_origin(self.type) or self.type) is ItemMap

    @property
    def item_type(self) -> Any:
        """The value type of an ItemMap field (``Any`` if not given)."""
        return _first_arg(self.type)

    def fresh_default(self) -> Any:
        """A copy of the default for one instance."""
        if isinstance(self.default, ItemMap):
            return type(self.default)()  # a subclass (e.g. one that keeps counts) stays one
        if isinstance(self.default, _IMMUTABLE):
            return self.default
        return copy.deepcopy(self.default)


@functools.cache
def _first_arg(type_: Any) -> Any:
    """The first type argument of ``type_`` (``Any`` if none); computed once per type."""
    args = typing.get_args(type_)
    return args[0] if args else Any


def declared_state(cls: type[Any], stop: type[Any]) -> dict[str, StateField]:
    """Annotated, defaulted, public, non-ClassVar attributes of ``cls`` below ``stop``."""
    fields: dict[str, StateField] = {}
    for klass in reversed(cls.__mro__):
        if not issubclass(klass, stop) or klass is stop:
            continue
        for name, annotation in inspect.get_annotations(klass).items():
            if name.startswith("_") or name not in klass.__dict__:
                continue
            hint = _resolve(klass, annotation)
            if hint is ClassVar or typing.get_origin(hint) is ClassVar:
                continue
            fields[name] = StateField(name, hint, klass.__dict__[name])
    return fields


def _resolve(klass: type[Any], annotation: Any) -> Any:
    if not isinstance(annotation, str):
        return annotation
    if annotation.startswith(("ClassVar", "typing.ClassVar")):
        return ClassVar
    holder = type(
        "_Holder", (), {"__annotations__": {"x": annotation}, "__module__": klass.__module__}
    )
    try:
        return typing.get_type_hints(holder, localns=dict(vars(klass)))["x"]
    except NameError as exc:
        raise TypeError(
            f"{klass.__qualname__}: cannot resolve the state annotation {annotation!r} ({exc}); "
            "import the types used by state fields at module level"
        ) from exc

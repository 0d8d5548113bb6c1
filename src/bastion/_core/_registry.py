"""The name registry: unique names with metadata, O(1) lookup, attribute queries.

Entries are removed automatically when their actor stops, so a name never points at
a dead incarnation. ``runtime.ref(name)`` resolves through this table on every use,
which is how callers keep working across supervisor restarts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bastion._core._errors import NameTaken, NoSuchActor
from bastion._core._sealed import NoPublicConstructor

if TYPE_CHECKING:
    from bastion._core._cell import Cell
    from bastion._core._ref import ActorRef

__all__ = ["Registry", "RegistryEntry", "check_name"]

_COLLECTIONS = (list, tuple, set, frozenset)


def check_name(name: object) -> str:
    """Return ``name`` or raise ``TypeError``/``ValueError`` if it is not a usable name."""
    if not isinstance(name, str):
        raise TypeError(f"actor names are strings, got {type(name).__name__}: {name!r}")
    if not name or name != name.strip():
        raise ValueError(f"actor names are non-empty without surrounding spaces: {name!r}")
    return name


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """One registered actor: its name, a ref to it and a copy of its metadata."""

    name: str
    ref: ActorRef
    metadata: Mapping[str, Any]


class Registry(metaclass=NoPublicConstructor):
    """Unique names → live actors, with metadata (capabilities, health, attributes)."""

    _obtained_from = "each runtime has one: rt.registry"

    __slots__ = ("_cells",)

    def __init__(self) -> None:
        self._cells: dict[str, Cell] = {}

    def __len__(self) -> int:
        return len(self._cells)

    def __contains__(self, name: object) -> bool:
        return name in self._cells

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._cells))

    def _claim(self, name: str, cell: Cell) -> None:
        """Register ``cell`` under ``name`` (kernel interface). Raises NameTaken."""
        holder = self._cells.get(name)
        if holder is not None and holder.alive:
            raise NameTaken(f"the name {name!r} is registered to {holder!r}")
        self._cells[name] = cell

    def _release(self, name: str, cell: Cell) -> None:
        """Remove ``name`` if it still points at ``cell`` (kernel interface)."""
        if self._cells.get(name) is cell:
            del self._cells[name]

    def _cell_of(self, name: str) -> Cell | None:
        """The live cell for ``name`` (kernel interface)."""
        return self._cells.get(name)

    def lookup(self, name: str) -> ActorRef | None:
        """The ref of the actor registered as ``name`` now, or None. O(1)."""
        cell = self._cells.get(name)
        return cell.ref if cell is not None else None

    def metadata(self, name: str) -> Mapping[str, Any]:
        """A copy of the metadata of ``name``. Raises NoSuchActor."""
        return dict(self._require(name).metadata)

    def update_metadata(self, name: str, **attributes: Any) -> None:
        """Set metadata attributes of ``name`` (e.g. ``health="degraded"``)."""
        self._require(name).metadata.update(attributes)

    def entries(self) -> list[RegistryEntry]:
        """Every registered actor."""
        return [RegistryEntry(n, c.ref, dict(c.metadata)) for n, c in self._cells.items()]

    def select(self, **attributes: Any) -> list[RegistryEntry]:
        """Entries whose metadata matches every attribute.

        A metadata value that is a list, tuple or set matches if it contains the wanted
        value, so ``select(capabilities="parse")`` finds actors with that capability.
        """
        return [
            RegistryEntry(name, cell.ref, dict(cell.metadata))
            for name, cell in self._cells.items()
            if _matches(cell.metadata, attributes)
        ]

    def _require(self, name: str) -> Cell:
        cell = self._cells.get(name)
        if cell is None:
            raise NoSuchActor(f"no actor is registered as {name!r}")
        return cell


def _matches(metadata: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    for key, value in wanted.items():
        if key not in metadata:
            return False
        have = metadata[key]
        if have == value:
            continue
        if isinstance(have, _COLLECTIONS) and not isinstance(value, _COLLECTIONS) and value in have:
            continue
        return False
    return True

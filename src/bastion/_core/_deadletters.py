"""Dead letters: a bounded, inspectable, replayable queue of undeliverable messages."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bastion._core import _event_names, _events
from bastion._core._errors import ActorNotAlive, MailboxFull
from bastion._core._sealed import NoPublicConstructor
from bastion._core._stats import DeadLetterStatistics

if TYPE_CHECKING:
    from bastion._core._cell import Cell
    from bastion._core._registry import Registry

__all__ = ["DeadLetter", "DeadLetters", "ReplayResult"]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that could not be delivered, with why and when (runtime clock)."""

    recipient: str
    name: str | None
    message: Any
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What :meth:`DeadLetters.replay` did."""

    delivered: int
    failed: int


class DeadLetters(metaclass=NoPublicConstructor):
    """Bounded queue of dead letters; the oldest are evicted (and counted) when full."""

    _obtained_from = "each runtime has one: rt.dead_letters"

    __slots__ = ("_by_reason", "_clock", "_evicted", "_items", "_registry", "_replayed", "_total")

    def __init__(self, capacity: int, registry: Registry, clock: Callable[[], float]) -> None:
        if capacity < 1:
            raise ValueError(f"dead-letter capacity must be >= 1, got {capacity!r}")
        self._items: deque[DeadLetter] = deque(maxlen=capacity)
        self._registry = registry
        self._clock = clock
        self._total = 0
        self._evicted = 0
        self._replayed = 0
        self._by_reason: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._items)

    def _add(self, recipient: Cell | str, message: Any, reason: str) -> None:
        """Record an undeliverable message (kernel interface)."""
        if len(self._items) == self._items.maxlen:
            self._evicted += 1
        name = recipient if isinstance(recipient, str) else recipient.name
        letter = DeadLetter(repr(recipient), name, message, reason, self._clock())
        self._items.append(letter)
        self._total += 1
        self._by_reason[reason.split(":", 1)[0]] += 1
        _events.emit(
            _event_names.DEAD_LETTER,
            {"count": 1},
            {"recipient": letter.recipient, "reason": reason},
        )

    def items(self) -> list[DeadLetter]:
        """The dead letters held now, oldest first."""
        return list(self._items)

    def drain(self) -> list[DeadLetter]:
        """Return and remove every dead letter."""
        items = list(self._items)
        self._items.clear()
        return items

    def replay(self, predicate: Callable[[DeadLetter], bool] | None = None) -> ReplayResult:
        """Re-send matching letters (as casts) to the actor now registered under their name.

        Delivered letters are removed; the others stay queued.
        """
        delivered = failed = 0
        keep: deque[DeadLetter] = deque(maxlen=self._items.maxlen)
        for letter in self._items:
            if predicate is not None and not predicate(letter):
                keep.append(letter)
                continue
            ref = self._registry.lookup(letter.name) if letter.name is not None else None
            try:
                if ref is None:
                    raise ActorNotAlive(letter.recipient)
                ref.cast_nowait(letter.message)
            except (ActorNotAlive, MailboxFull):
                failed += 1
                keep.append(letter)
                continue
            delivered += 1
        self._items = keep
        self._replayed += delivered
        return ReplayResult(delivered, failed)

    def statistics(self) -> DeadLetterStatistics:
        """A snapshot of the queue and its counters."""
        return DeadLetterStatistics(
            size=len(self._items),
            capacity=self._items.maxlen or 0,
            total=self._total,
            evicted=self._evicted,
            replayed=self._replayed,
            by_reason=dict(self._by_reason),
        )

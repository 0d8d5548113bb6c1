"""The audit journal: every control action, who asked, what it was, why, and what came of it.

The console appends one :class:`AuditEntry` per mutation (accepted or failed) and logs it
on ``bastion.console.audit``. Entries are kept in a bounded in-memory journal; pass
``sink=`` to also hand each entry to your own journal (a state store, the flags change
log) the moment it is written.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["AuditEntry", "AuditJournal"]

_log = logging.getLogger("bastion.console.audit")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One control action: ``who`` did ``action`` on ``target`` because ``why``.

    ``outcome`` is ``ok`` or ``failed``; ``detail`` says what resulted (or why it failed).
    ``at`` is the wall clock (seconds since the epoch); ``seq`` counts from 1.
    """

    seq: int
    at: float
    who: str
    action: str
    target: str
    why: str
    outcome: str
    detail: str


class AuditJournal:
    """A bounded, append-only journal of control actions (newest ``capacity`` kept)."""

    def __init__(
        self, capacity: int = 1000, *, sink: Callable[[AuditEntry], None] | None = None
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be an int >= 1, got {capacity!r}")
        self._entries: deque[AuditEntry] = deque(maxlen=capacity)
        self._sink = sink
        self._seq = 0

    def record(
        self, *, who: str, action: str, target: str, why: str, outcome: str, detail: str
    ) -> AuditEntry:
        """Append an entry (and hand it to the sink); returns it."""
        self._seq += 1
        entry = AuditEntry(self._seq, round(time.time(), 3), who, action, target, why, outcome,
                           detail)  # fmt: skip
        self._entries.append(entry)
        _log.info("console %s %s by %s (%s): %s — %s", action, target, who, why, outcome, detail)
        if self._sink is not None:
            self._sink(entry)
        return entry

    def entries(self, limit: int | None = None) -> list[AuditEntry]:
        """The newest ``limit`` entries (all by default), newest first."""
        items = list(reversed(self._entries))
        return items if limit is None else items[:limit]

    def __len__(self) -> int:
        return len(self._entries)

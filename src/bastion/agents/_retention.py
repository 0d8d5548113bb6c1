"""Retention of finished task outcomes: how many, and how old, a TaskAgent keeps.

A TaskAgent records every outcome (``done/<task id>`` in its namespace) so that a
re-offered task id answers with the recorded outcome instead of running twice. Without
retention the outcomes stay until ``forget``; with ``OutcomeRetention`` the agent deletes
the oldest ones itself, in the same atomic batch that records a new one.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable

import msgspec

__all__ = ["OutcomeIndex", "OutcomeRetention"]


class OutcomeRetention(msgspec.Struct, frozen=True):
    """Keep at most ``max_outcomes`` finished outcomes, none older than ``max_age`` seconds.

    Either may be None (no limit by that measure); at least one must be set. Outcomes
    are dropped oldest first, when a new outcome is recorded and when the agent starts.
    A dropped outcome is forgotten: re-queueing its task id runs the task again.
    """

    max_outcomes: int | None = None
    max_age: float | None = None

    def __post_init__(self) -> None:
        if self.max_outcomes is None and self.max_age is None:
            raise ValueError("OutcomeRetention needs max_outcomes and/or max_age")
        if self.max_outcomes is not None and (
            isinstance(self.max_outcomes, bool) or self.max_outcomes < 1
        ):
            raise ValueError(f"max_outcomes must be an int >= 1, not {self.max_outcomes!r}")
        if self.max_age is not None and not 0 < self.max_age < math.inf:
            raise ValueError(
                f"max_age must be a finite number of seconds > 0, not {self.max_age!r}"
            )


class _Finished(msgspec.Struct):
    finished_at: float = 0.0


_decode_finished = msgspec.json.Decoder(_Finished).decode


class OutcomeIndex:
    """The ids of the recorded outcomes, oldest first, and which ones retention drops."""

    def __init__(self, retention: OutcomeRetention) -> None:
        self.retention = retention
        self._finished: collections.OrderedDict[str, float] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._finished)

    def load(self, items: Iterable[tuple[str, bytes]], now: float) -> list[str]:
        """Index the stored outcomes (``(task id, encoded TaskOutcome)``) at start;
        returns the ids retention drops at ``now``."""
        found = sorted((_decode_finished(data).finished_at, task_id) for task_id, data in items)
        self._finished = collections.OrderedDict((t, at) for at, t in found)
        return self.expired(now)

    def merge(self, items: Iterable[tuple[str, bytes]], now: float) -> list[str]:
        """Index outcomes stored before the start, read after it (a large agent's start
        leaves them out): older than those recorded since. Returns the ids dropped at ``now``."""
        since = self._finished
        found = sorted(
            (_decode_finished(data).finished_at, task_id)
            for task_id, data in items
            if task_id not in since
        )
        self._finished = collections.OrderedDict((t, at) for at, t in found)
        self._finished.update(since)
        return self.expired(now)

    def add(self, task_id: str, finished_at: float, now: float) -> list[str]:
        """A new outcome was recorded; returns the ids retention drops at ``now``."""
        self._finished.pop(task_id, None)
        self._finished[task_id] = finished_at
        return self.expired(now)

    def discard(self, task_id: str) -> None:
        """An outcome was forgotten."""
        self._finished.pop(task_id, None)

    def expired(self, now: float) -> list[str]:
        """Remove and return the ids retention drops at ``now`` (oldest first)."""
        limit, age = self.retention.max_outcomes, self.retention.max_age
        finished, out = self._finished, []
        while finished:
            task_id, at = next(iter(finished.items()))
            if (limit is None or len(finished) <= limit) and (age is None or now - at <= age):
                break
            finished.popitem(last=False)
            out.append(task_id)
        return out

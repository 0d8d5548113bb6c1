"""The order in which a TaskAgent takes its queued tasks: priority first, then ``seq``.

A heap of every queued task did this in O(log n) per task, and on a long queue each
pop walked a path of tuples spread over memory (cache misses cost more than the
comparisons). Tasks queued on an agent arrive in ``seq`` order within their priority,
so :class:`RunOrder` keeps a FIFO lane per priority (O(1) per task) and a heap only
for the entries that arrive out of order (a page of a restored queue read after newer
tasks were queued, say). Entries are ``(order, task_id)`` with ``order`` from
:func:`~bastion.agents._task_types.order_of`; an entry whose task left the queue is
skipped by its reader (lazy deletion).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable

from bastion.agents._task_types import ORDER_SHIFT, PRIORITIES

__all__ = ["RunOrder"]

Entry = tuple[int, str]
_LANES = max(PRIORITIES.values()) + 1


class RunOrder:
    """Task ids in run order: FIFO lanes per priority, a heap for late arrivals."""

    __slots__ = ("_lanes", "_late")

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        # A lane is made on its priority's first task (an idle agent holds none).
        self._lanes: list[deque[Entry] | None] = [None] * _LANES
        self._late: list[Entry] = []
        for entry in sorted(entries):
            self.push(entry)

    def __bool__(self) -> bool:
        return bool(self._late) or any(self._lanes)

    def __len__(self) -> int:
        return len(self._late) + sum(len(lane) for lane in self._lanes if lane)

    def push(self, entry: Entry) -> None:
        """Add ``(order, task_id)``."""
        level = entry[0] >> ORDER_SHIFT
        if 0 <= level < _LANES:
            lane = self._lanes[level]
            if lane is None:
                lane = self._lanes[level] = deque()
            if not lane or lane[-1][0] < entry[0]:
                lane.append(entry)
                return
        heapq.heappush(self._late, entry)  # out of order (or a priority of no lane)

    def head(self) -> Entry | None:
        """The first entry, left in place; None if empty."""
        late = self._late
        for lane in self._lanes:
            if lane:
                first = lane[0]
                return late[0] if late and late[0] < first else first
        return late[0] if late else None

    def pop(self) -> Entry | None:
        """Remove and return the first entry; None if empty."""
        late = self._late
        for lane in self._lanes:
            if lane:
                if late and late[0] < lane[0]:
                    return heapq.heappop(late)
                return lane.popleft()
        return heapq.heappop(late) if late else None

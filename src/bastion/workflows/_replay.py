"""Replaying recorded outcomes in the order they were recorded (branches of a workflow).

Step numbers are taken in call order. A workflow whose steps run on one task calls them
in the same order on every run. With branches (``asyncio.gather`` of coroutines that
each await several steps in sequence), the order of the calls depends on the order in
which the steps *completed*: the branch whose step finished first calls its next step
first. On a replay every recorded step would return at once, so the branches would take
their later step numbers in another order, and the workflow would fail with
``NonDeterministicWorkflow`` although its code did not change.

So each record carries ``seq``: the run's fence version when it was written (the fence
only grows, across incarnations too). A replaying run hands a recorded *outcome* (a
completed or failed step, a received message, a send) to its caller only once every
record written before it has been reached, which is the order the original run saw
them in; a record that is not an outcome (a sleep's or a receive's wait, a retry's
next attempt, a patch marker) is reached when it is called. Records written by older
code have no ``seq`` and are returned at once, as before.

Code that is not deterministic could wait for a record it never reaches: after
:data:`STALL` seconds without one being reached, the outcome is handed over out of order
(and a changed call order then fails with ``NonDeterministicWorkflow``, as it would have).
"""

from __future__ import annotations

import asyncio
from collections import deque

from bastion.workflows._records import StepRecord, StepStatus

__all__ = ["STALL", "ReplayOrder"]

#: Seconds a replayed outcome waits for the records written before it to be reached.
STALL = 5.0

_OUTCOMES = (StepStatus.COMPLETED, StepStatus.FAILED)


class ReplayOrder:
    """The recorded step numbers of a loaded run that its replay has not reached yet."""

    __slots__ = ("_keys", "_reached", "_waiters")

    def __init__(self, history: dict[int, StepRecord]) -> None:
        self._keys = deque(sorted((rec.seq, no) for no, rec in history.items() if rec.seq))
        self._reached: set[tuple[int, int]] = set()
        self._waiters: dict[tuple[int, int], asyncio.Future[None]] = {}

    async def reach(self, step_no: int, rec: StepRecord) -> None:
        """The replay calls recorded step ``step_no``: return when its record may be
        used (an outcome: once every record written before it was reached)."""
        if not rec.seq:
            return
        key = (rec.seq, step_no)
        keys = self._keys
        if rec.status in _OUTCOMES and keys and keys[0] < key:
            waiter = self._waiters[key] = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait((waiter,), timeout=STALL)
            finally:
                self._waiters.pop(key, None)
        self.reached(step_no, rec)

    def reached(self, step_no: int, rec: StepRecord) -> None:
        """Recorded step ``step_no`` was reached (called, or handed over)."""
        if not rec.seq:
            return
        keys = self._keys
        self._reached.add((rec.seq, step_no))
        while keys and keys[0] in self._reached:
            self._reached.discard(keys.popleft())
        if keys:
            waiter = self._waiters.get(keys[0])
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

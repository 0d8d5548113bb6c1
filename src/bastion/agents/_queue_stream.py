"""A TaskAgent's restore of a large queue: the first page first, the rest while it runs.

Restoring 100,000 queued tasks whole (read every row, outcomes included, decode every
task) took seconds before the first task ran. On a store that reads in pages
(:class:`~bastion.persistence._paged.PagedLoad`: SQLite) a TaskAgent instead restores

1. its state record, its small collections and the first :data:`HEAD_PAGE` tasks in
   queue order (highest priority first, then queueing order: ``TaskQueue.order_of``),
   with the count of the tasks left in the store per priority (``len`` and ``status``
   count them from the start), and the row of the task that was running, if it is not
   in that page (its attempt is folded back as before);
2. then, one :data:`PAGE` per :class:`StreamQueue` message to itself (one per turn of
   the event loop), the rest of the queue, between its other messages: no task of its
   own, nothing unsupervised;
3. then, with an ``OutcomeRetention``, the ids and finish times of its stored outcomes
   (without retention they are never read at start; ``result`` reads one from the store).

What must hold while pages are still in the store: a task is never taken from the queue
while an unread task would come before it (:meth:`QueueStream.fill`); a re-offered id that
is still in the store answers "queued" instead of queueing a second copy
(:meth:`QueueStream.holds`); a page skips the tasks the agent already holds (the running
one, tasks queued since); a task that does not decode is set aside like at restore.
A crash at any point restores from the store again: nothing is acknowledged or deleted
by streaming itself.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bastion.agents._snapshot import Rejected, Restored
from bastion.agents._task_types import ORDER_SHIFT, QueuedTask, TaskQueue, order_of
from bastion.persistence import NamespaceData
from bastion.persistence._paged import Cursor, PagedLoad

if TYPE_CHECKING:
    from bastion.agents._task_agent import TaskAgent

__all__ = ["HEAD_PAGE", "PAGE", "QueueStream", "StreamQueue"]

HEAD_PAGE = 256  # tasks restored before the first dispatch
PAGE = 1_000  # tasks (or outcome ids) read per StreamQueue message
_QUEUE, _DONE = "queue", "done"


@dataclass(frozen=True, slots=True)
class StreamQueue:
    """A TaskAgent's message to itself: read the next page of its restored queue."""


class QueueStream:
    """Where a TaskAgent's paged restore stands (one per incarnation)."""

    def __init__(self) -> None:
        self.cursor: Cursor | None = None  # the last task read; None: the queue is all in
        self._bands: dict[int, int] = {}
        self._head: dict[int, int] = {}
        self._outcomes_after: str | None = None  # next outcome key to index; None: done
        self._outcome_rows: list[tuple[str, bytes]] = []

    @property
    def active(self) -> bool:
        """Whether part of the queue (or the outcome index) is still in the store."""
        return self.cursor is not None or self._outcomes_after is not None

    async def load(self, agent: TaskAgent) -> NamespaceData:
        """The namespace a restore decodes: on a paged store, its head only."""
        store = agent.store
        if not isinstance(store, PagedLoad):
            return await store.load(agent.namespace)
        head = await store.load_head(
            agent.namespace, _QUEUE, HEAD_PAGE, shift=ORDER_SHIFT, skip=(_DONE,)
        )
        rows = [(item, data) for item, data, _ in head.page]
        if not head.complete and head.page:
            item, _, order = head.page[-1]
            assert order is not None  # only ordered rows leave a page incomplete
            self.cursor = (order, item)
        for _, _, order in head.page:
            if order is not None:
                band = order >> ORDER_SHIFT
                self._head[band] = self._head.get(band, 0) + 1
        self._bands = head.bands if not head.complete else {}
        if agent._outcomes is not None:
            self._outcomes_after = ""
        return NamespaceData(
            head.data.namespace, head.data.records, {**head.data.collections, _QUEUE: rows}
        )

    async def attach(self, agent: TaskAgent) -> None:
        """After the head is decoded: count what is left, fetch the running task's row."""
        queue = agent.queue
        if self.cursor is not None and isinstance(queue, TaskQueue):
            queue.set_unloaded({b: n - self._head.get(b, 0) for b, n in self._bands.items()})
            running = agent.current_task
            if running is not None and running not in queue:
                data = await agent.store.read_item(agent.namespace, _QUEUE, running)
                if data is not None:
                    await self._add(agent, [(running, data)])

    def begin(self, agent: TaskAgent) -> None:
        """At the end of the restore (after the first task was asked for): stream the rest."""
        if self.active:
            agent.ref.cast_nowait(StreamQueue())

    async def step(self, agent: TaskAgent) -> None:
        """Handle a ``StreamQueue`` message: read one page; ask for the next if any."""
        await asyncio.sleep(0)  # one page per turn of the loop: the node runs meanwhile
        if self.cursor is not None:
            await self._next_page(agent)
        elif self._outcomes_after is not None:
            await self._index_outcomes(agent)
        if self.active:
            agent.ref.cast_nowait(StreamQueue())

    async def fill(self, agent: TaskAgent) -> None:
        """Before a task is taken: read pages until no unread task comes before the next."""
        while self.cursor is not None:
            run_order, queue = agent._run_order, agent.queue
            first = run_order.head()
            while first is not None and first[1] not in queue:
                run_order.pop()  # a task that already ran
                first = run_order.head()
            if first is not None and first[0] <= self.cursor[0]:
                return
            await self._next_page(agent)

    async def holds(self, agent: TaskAgent, task_id: str) -> bool:
        """Whether ``task_id`` (not in memory) is a queued task still in the store."""
        queue = agent.queue
        if self.cursor is None or not isinstance(queue, TaskQueue):
            return False
        if queue.unsaved_delete(task_id):
            return False  # it ran here; its outcome is being written
        return await agent.store.read_item(agent.namespace, _QUEUE, task_id) is not None

    # -- pages ---------------------------------------------------------------------------
    async def _next_page(self, agent: TaskAgent) -> None:
        store = agent.store
        assert isinstance(store, PagedLoad)
        assert self.cursor is not None
        await agent.persist(wait=False)  # the read sees every change made so far
        page = await store.load_page(agent.namespace, _QUEUE, self.cursor, PAGE)
        if len(page) < PAGE:
            self.cursor = None
            queue = agent.queue
            if isinstance(queue, TaskQueue):
                queue.set_unloaded({})  # all in (a row deleted meanwhile was counted)
        else:
            item, _, order = page[-1]
            assert order is not None
            self.cursor = (order, item)
        queue = agent.queue
        await self._add(agent, [(item, data) for item, data, _ in page if item not in queue])

    async def _add(self, agent: TaskAgent, rows: list[tuple[str, bytes]]) -> None:
        if not rows:
            return
        restored = agent._decode(
            NamespaceData(agent.namespace, {}, {_QUEUE: rows})
        )  # records absent: only items decode
        tasks: dict[str, QueuedTask] = restored.items.get(_QUEUE, {})
        queue = agent.queue
        if isinstance(queue, TaskQueue):
            queue.add_restored(tasks)
        run_order = agent._run_order
        for task in tasks.values():
            run_order.push((order_of(task), task.id))
        if restored.rejected:
            await _set_aside(agent, restored.rejected)

    async def _index_outcomes(self, agent: TaskAgent) -> None:
        store, outcomes = agent.store, agent._outcomes
        assert isinstance(store, PagedLoad)
        assert self._outcomes_after is not None
        rows = await store.load_items(agent.namespace, _DONE, self._outcomes_after, PAGE)
        self._outcome_rows.extend(rows)
        if len(rows) == PAGE:
            self._outcomes_after = rows[-1][0]
            return
        self._outcomes_after = None
        collected, self._outcome_rows = self._outcome_rows, []
        if outcomes is not None:
            for old in outcomes.merge(collected, time.time()):
                agent.unstage_item(_DONE, old)
            await agent.persist(wait=False)


async def _set_aside(agent: TaskAgent, rejected: list[Rejected]) -> None:
    """Tasks of a page that do not decode: kept aside as at restore (their bytes under
    ``quarantined/...``, an event each), left out of the queue."""
    await agent.persist(wait=False)
    await agent._set_aside(Restored({}, {}, agent._version, 0, None, rejected))

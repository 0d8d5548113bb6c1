"""Which workflow runs get a task, and when: at most ``max_running`` at once.

Workflows started in this process arrive loaded (``enqueue``). Workflows found in the
store's active index arrive as ids; one *loader* task reads them one at a time (one
namespace read each), so the first resumed workflow runs after one read, not after
the reads of the whole backlog, and reads the index itself in pages where the store
can (``PagedLoad``).

A partitioned engine (``open_workflows(partitions=N)``, see ``_partitions``) runs only
the workflows of the partitions its node owns: the index entries of other partitions
are skipped, a partition taken over is read from the index at once, and every
``discover_every`` seconds the index is read again for workflows started on other
nodes (and the inboxes of waiting runs for messages sent from other nodes).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

from bastion._core._runtime import Runtime
from bastion.persistence import StateStore, StoreError
from bastion.persistence._paged import PagedLoad
from bastion.workflows._partitions import Ownership, partition_of
from bastion.workflows._records import ACTIVE_COLLECTION, INBOX
from bastion.workflows._run import EngineFault, Fenced, Run

if TYPE_CHECKING:
    from bastion._core._ref import ActorRef

__all__ = ["Launcher"]

#: Index entries read per page when resuming (stores that read in pages).
INDEX_PAGE = 256
#: Stored workflows read concurrently by the loader (their reads share the store's waits).
LOAD_GROUP = 32


class Launcher:
    """Run tasks, the queue of loaded runs, and the loader of stored ones."""

    runtime: Runtime
    store: StateStore
    max_running: int
    max_inbox: int
    counts: dict[str, int]
    refused: dict[str, BaseException]
    index_namespace: str

    def __init__(self) -> None:
        self.active: dict[str, Run | None] = {}  # None: known, not loaded yet
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.ready: deque[Run] = deque()
        self.to_load: deque[str] = deque()
        self.relaunch: dict[str, Run] = {}  # loaded again while its old run still ends
        #: active workflows this engine does not run until they leave the set (a
        #: CoordinatorAgent's paused ones: ``requeue`` runs one again)
        self.held: set[str] = set()
        self.owner: ActorRef | None = None
        self.accepting = False
        self._loader: asyncio.Task[None] | None = None
        self._index_after: str | None = None  # where the next index page starts
        self.ownership: Ownership | None = None  # partitioned: what this node owns
        self.discover_every = 1.0
        self._discoverer: asyncio.Task[None] | None = None

    async def _load(self, workflow_id: str) -> Run | None:
        raise NotImplementedError

    def take_early(self, run: Run) -> None:
        """Merge messages delivered while the run was loaded (see Signals)."""
        raise NotImplementedError

    def drop_early(self, workflow_id: str) -> None:
        """Forget messages held for a workflow (see Signals)."""
        raise NotImplementedError

    def fault(self, run: Run | None, fault: EngineFault, workflow_id: str = "") -> None:
        """Report a store failure (see EngineCore)."""
        raise NotImplementedError

    def deliver(self, workflow_id: str, topic: str, key: str, data: bytes) -> None:
        """Hand a committed message to its run (see Signals)."""
        raise NotImplementedError

    def owns(self, workflow_id: str) -> bool:
        """Whether this engine runs ``workflow_id`` (partitioned: its node owns it)."""
        return self.ownership is None or self.ownership.owns(workflow_id)

    # -- incarnations -------------------------------------------------------------------------
    async def attach(self, owner: ActorRef) -> None:
        """A new engine actor owns the runs: queue the active workflows of the store."""
        self.owner, self.accepting = owner, True
        if self.ownership is None:
            await self.scan()
            return
        name = "workflow partitions discovery"
        self._discoverer = self.runtime.tasks.start(self._discover_loop, name=name)
        self._discoverer.add_done_callback(self._discoverer_done)
        with contextlib.suppress(StoreError, TimeoutError):  # the discovery reads it again
            await self.scan()

    async def scan(self) -> None:
        """Queue the active workflows of the index that this engine runs and not yet."""
        if not self.accepting:
            return  # the next incarnation scans in its attach
        if isinstance(self.store, PagedLoad):
            self._index_after = ""  # (from the top again: what came before is skipped)
            await self._next_index_page()
        else:
            data = await self.store.load(self.index_namespace)
            if self._stopped():
                return
            self._queue_ids(i for i, _ in data.collections.get(ACTIVE_COLLECTION, []))
        self.launch_more()

    def detach(self) -> None:
        """The engine actor stops: cancel every run (their state is in the store)."""
        self.accepting, self.owner = False, None
        extra = [t for t in (self._loader, self._discoverer) if t is not None]
        for task in [*self.tasks.values(), *extra]:
            task.cancel()
        self._discoverer = None
        self.tasks.clear()
        self.active.clear()
        self.ready.clear()
        self.to_load.clear()
        self.relaunch.clear()
        self._loader, self._index_after = None, None

    async def _next_index_page(self) -> None:
        after = self._index_after
        if after is None or not isinstance(self.store, PagedLoad):
            return
        page = await self.store.load_items(
            self.index_namespace, ACTIVE_COLLECTION, after, INDEX_PAGE
        )
        self._index_after = page[-1][0] if len(page) == INDEX_PAGE else None
        self._queue_ids(i for i, _ in page)

    def _queue_ids(self, ids: Iterable[str]) -> None:
        partitioned = self.ownership is not None
        for workflow_id in ids:
            if partitioned and (not self.owns(workflow_id) or workflow_id in self.refused):
                continue  # another node's, or refused here already (rescans are periodic)
            if workflow_id in self.held:
                continue
            if workflow_id not in self.active:
                self.active[workflow_id] = None
                self.to_load.append(workflow_id)

    # -- launching ------------------------------------------------------------------------------
    def enqueue(self, run: Run) -> None:
        """Run a workflow just started in this process."""
        if (
            not self.accepting
            or run.id in self.active
            or not self.owns(run.id)
            or run.id in self.held
        ):
            return  # the next incarnation (or the owning node) finds it in the index
        self.active[run.id] = run
        self.take_early(run)
        self.ready.append(run)
        self.launch_more()

    def requeue(self, workflow_id: str) -> None:
        """Load and run a stored workflow again (resumed, forked)."""
        if self.accepting and self.active.get(workflow_id) is None and self.owns(workflow_id):
            self.active[workflow_id] = None
            self.to_load.append(workflow_id)
            self.launch_more()

    def launch_more(self) -> None:
        """Give ready runs a task while fewer than ``max_running`` run; keep loading."""
        while self.ready and len(self.tasks) < self.max_running:
            run = self.ready.popleft()
            if self.active.get(run.id) is not run:
                continue  # cancelled meanwhile
            if run.id in self.tasks:  # its old run is still ending (a cancel, a resume)
                self.relaunch[run.id] = run
                continue
            self._start(run)
        busy = len(self.tasks) + len(self.ready) >= self.max_running
        more = self.to_load or self._index_after is not None
        if more and not busy and self._loader is None and self.accepting:
            self._loader = self.runtime.tasks.start(self._load_loop, name="workflow loader")
            self._loader.add_done_callback(self._loader_done)

    def _start(self, run: Run) -> None:
        task = self.runtime.tasks.start(run.execute, name=f"workflow {run.id}")
        run.task = task
        self.tasks[run.id] = task
        task.add_done_callback(functools.partial(self._task_done, run))

    def _task_done(self, run: Run, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:  # a bug of the engine
            self.fault(run, EngineFault(task.exception()), run.id)
        if self.tasks.get(run.id) is task:
            del self.tasks[run.id]
            again = self.relaunch.pop(run.id, None)
            if again is not None:
                self._start(again)
            elif self.active.get(run.id) is run:
                del self.active[run.id]
        self.launch_more()

    async def _load_loop(self) -> None:
        chunk = 1  # the first workflow alone (it runs at once), then reads in groups
        while self.accepting:
            room = self.max_running - len(self.tasks) - len(self.ready)
            if room <= 0:
                return
            if not self.to_load:
                if self._index_after is None:
                    return
                await self._next_index_page()
                continue
            ids: list[str] = []
            while self.to_load and len(ids) < min(chunk, room):
                workflow_id = self.to_load.popleft()
                if self.active.get(workflow_id, ...) is None:  # known, not loaded, not gone
                    ids.append(workflow_id)
            chunk = LOAD_GROUP
            try:
                runs = await asyncio.gather(*(self._load_owned(i) for i in ids))
            except (EngineFault, StoreError, TimeoutError) as fault:
                if self.ownership is not None:  # partitioned: the next discovery retries
                    for workflow_id in ids:
                        self.active.pop(workflow_id, None)
                    return
                if not isinstance(fault, EngineFault):
                    raise
                self.fault(None, fault, ids[0] if ids else "")
                return
            if self._stopped():
                return
            for workflow_id, run in zip(ids, runs, strict=True):
                if run is None or workflow_id not in self.active:
                    self.active.pop(workflow_id, None)
                    self.drop_early(workflow_id)
                    continue
                self.counts["resumed"] += 1
                self.active[workflow_id] = run
                self.take_early(run)
                self.ready.append(run)
            self.launch_more()
            await asyncio.sleep(0)  # let the runs just started take their first steps

    async def _load_owned(self, workflow_id: str) -> Run | None:
        """Load a workflow; None if its partition was lost meanwhile (claim fenced)."""
        try:
            return await self._load(workflow_id)
        except Fenced:
            return None

    def _stopped(self) -> bool:
        return not self.accepting  # (read again after an await: detach may have run)

    def _loader_done(self, task: asyncio.Task[None]) -> None:
        if self._loader is task:
            self._loader = None
        if not task.cancelled() and task.exception() is not None:
            self.fault(None, EngineFault(task.exception()))
        elif self.accepting:
            self.launch_more()

    # -- partitions -------------------------------------------------------------------------------
    def drop_partition(self, number: int) -> None:
        """The node gave partition ``number`` up: stop its runs now, forget its queue."""
        assert self.ownership is not None
        count = self.ownership.count
        for workflow_id in [w for w in self.active if partition_of(w, count) == number]:
            del self.active[workflow_id]
            self.relaunch.pop(workflow_id, None)
            self.drop_early(workflow_id)
            task = self.tasks.get(workflow_id)
            if task is not None:
                task.cancel()  # (its entry goes in _task_done)
        self.ready = deque(r for r in self.ready if r.id in self.active)
        self.to_load = deque(w for w in self.to_load if w in self.active)

    async def _discover_loop(self) -> None:
        """Read the index (and waiting runs' inboxes) every ``discover_every`` seconds."""
        while self.accepting:
            await asyncio.sleep(self.discover_every)
            assert self.ownership is not None
            if self.ownership.stores:
                try:
                    await self.scan()
                    await self._refresh_inboxes()
                except (StoreError, TimeoutError):
                    continue  # the store is away: the next round (the runs fault if it stays)

    async def _refresh_inboxes(self) -> None:
        """Hand runs that wait in ``recv`` the messages other nodes sent them.

        Only while the run took no step since the read began: a message it consumed
        meanwhile may still be in what was read (its deletion not yet committed).
        """
        waiting = [r for r in list(self.active.values()) if r is not None and r.waiters]
        for run in waiting:
            step = run.next_no
            if isinstance(self.store, PagedLoad):
                items = await self.store.load_items(run.namespace, INBOX, "", self.max_inbox)
            else:
                items = (await self.store.load(run.namespace)).collections.get(INBOX, [])
            if run.next_no != step or self.active.get(run.id) is not run:
                continue
            for key, data in items:
                topic = key.partition("\x00")[0]
                if key not in run.inbox.get(topic, {}):
                    self.deliver(run.id, topic, key, data)

    def _discoverer_done(self, task: asyncio.Task[None]) -> None:
        if self._discoverer is task:
            self._discoverer = None
        if not task.cancelled() and task.exception() is not None:
            self.fault(None, EngineFault(task.exception()))

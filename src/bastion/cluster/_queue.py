"""A shared task queue that every node of a cluster takes work from.

A task is put once (``SharedQueue.put``: acknowledged when committed) as an item of the
``pending`` collection of ``queue/<name>``. A node *claims* a task with a lease on
``task/<name>/<id>`` (compare-and-set: one claimer wins), runs the handler, and records
the outcome in one fenced batch::

    Fence(task lease, token)  Put(queue/<name>/done, id, outcome, expected_version=0)
    DeleteItem(pending, id)   Delete(task lease)

so the outcome is recorded **once**: a claimer replaced after its node's heartbeat died
has its batch rejected whole, and ``expected_version=0`` refuses a second outcome. A
task whose node dies mid-run is claimed again once that node's heartbeat is seen dead:
execution is at-least-once, completion exactly-once. Each node tries its own share of
the pending tasks first (by a hash of the task id among the nodes it sees alive), so
live nodes rarely contend for one task.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from bastion._core._actor import Actor
from bastion.cluster._lease import (
    HOLDER,
    BeatWatch,
    Holder,
    acquire_ops,
    fence_for,
    lease_namespace,
    read_holder,
)
from bastion.persistence import (
    Delete,
    DeleteItem,
    Op,
    Put,
    PutItem,
    StateStore,
    StoreError,
    VersionConflict,
)
from bastion.persistence._paged import PagedLoad

__all__ = ["Outcome", "SharedQueue", "TaskHandler"]

#: Runs one task: its payload in, its result out (bytes both ways).
TaskHandler = Callable[[bytes], Awaitable[bytes]]
PENDING = "pending"


class Outcome(msgspec.Struct, frozen=True):
    """The recorded outcome of a task: which node ran it, its result or its error."""

    node: str
    ok: bool
    result: bytes = b""
    error: str = ""


class SharedQueue:
    """Put tasks and read outcomes of a shared queue (any process on the store)."""

    def __init__(self, store: StateStore, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a queue name must be a non-empty str: {name!r}")
        self.store = store
        self.name = name
        self.namespace = f"queue/{name}"
        self.done_namespace = f"queue/{name}/done"

    async def put(self, task_id: str, payload: bytes) -> None:
        """Queue a task; returns once it is committed (acknowledged)."""
        if not isinstance(task_id, str) or not task_id:
            raise ValueError(f"a task id must be a non-empty str: {task_id!r}")
        if not isinstance(payload, bytes):
            raise TypeError(f"a task payload is bytes, got {type(payload).__name__}")
        await self.store.write([PutItem(self.namespace, PENDING, task_id, payload)])

    async def outcome(self, task_id: str) -> Outcome | None:
        """The outcome of a task, or None while it is not done."""
        record = await self.store.read(self.done_namespace, task_id)
        return None if record is None else msgspec.json.decode(record.data, type=Outcome)

    async def pending(self, limit: int = 1000) -> list[tuple[str, bytes]]:
        """Up to ``limit`` pending tasks, by id."""
        store = self.store
        if isinstance(store, PagedLoad):
            return await store.load_items(self.namespace, PENDING, "", limit)
        data = await store.load(self.namespace)
        return data.collections.get(PENDING, [])[:limit]

    def owner(self, task_id: str) -> str:
        """The lease owner key of a task's claim."""
        return f"task/{self.name}/{task_id}"

    def completion_ops(self, task_id: str, token: int, outcome: Outcome) -> list[Op]:
        """The fenced batch that records ``outcome`` once and retires the task."""
        owner = self.owner(task_id)
        return [
            fence_for(owner, token),
            Put(self.done_namespace, task_id, msgspec.json.encode(outcome), expected_version=0),
            DeleteItem(self.namespace, PENDING, task_id),
            Delete(lease_namespace(owner), HOLDER, expected_version=token),
        ]


@dataclass(slots=True)
class Membership:
    """What a node shares with its queue workers: its id, lease and view of others."""

    node_id: str
    valid: Callable[[], bool]
    watch: BeatWatch
    now: Callable[[], float]


@dataclass(frozen=True, slots=True)
class _Poll:
    pass


class QueueWorker(Actor):
    """Takes tasks from one shared queue on behalf of a node, ``concurrency`` at a time."""

    def __init__(
        self,
        *,
        queue: SharedQueue,
        handler: TaskHandler,
        membership: Membership,
        poll: float,
        io_timeout: float,
        concurrency: int = 8,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.queue = queue
        self.handler = handler
        self.membership = membership
        self.poll = poll
        self.io_timeout = io_timeout
        self.concurrency = concurrency
        self.completed = 0
        self.rejected = 0

    async def on_start(self) -> None:
        """Start polling."""
        self.send_after(0.0, _Poll())

    async def handle_info(self, message: Any) -> None:
        """Run the claimable tasks seen, then poll again (at once if there were some)."""
        if not isinstance(message, _Poll):
            return
        ran = 0
        if self.membership.valid():
            try:
                ran = await self._round()
            except (StoreError, TimeoutError):
                ran = 0  # the store is away: the next poll
        self.send_after(0.0 if ran else self.poll, _Poll())

    async def _io(self, awaitable: Awaitable[Any]) -> Any:
        async with asyncio.timeout(self.io_timeout):
            return await awaitable

    async def _round(self) -> int:
        """Claim up to ``concurrency`` pending tasks and run them, all concurrently.

        Nodes list the same pending tasks (a window 16 times ``concurrency`` wide) but try
        their own share first: the tasks whose hash falls to this node's rank among the
        nodes it sees alive, so that live nodes do not try the same tasks (what
        ``SKIP LOCKED`` gives a SQL queue), then the others' (a dead node's, or when the
        views of who is alive differ), each in an order of its own (a hash of node and
        task id).
        """
        node = self.membership.node_id
        tasks = await self._io(self.queue.pending(self.concurrency * 16))
        live = sorted({*self.membership.watch.alive(self.membership.now()), node})
        rank, count = live.index(node), len(live)

        def preference(task: tuple[str, bytes]) -> tuple[bool, int]:
            key = task[0].encode()
            return zlib.crc32(key) % count != rank, zlib.crc32(node.encode() + b"/" + key)

        tasks.sort(key=preference)
        tokens: dict[str, int | None] = {}

        async def claim(task_id: str) -> None:
            tokens[task_id] = await self._claim(task_id)

        async with asyncio.TaskGroup() as group:  # all awaited here: no task outlives it
            for task_id, _ in tasks[: self.concurrency]:
                group.create_task(claim(task_id))
        claimed = [(t, p, tokens[t]) for t, p in tasks[: self.concurrency] if tokens[t]]
        if not self.membership.valid():
            return 0  # claimed but not run: the claims lapse with this node's lease
        runs: list[tuple[str, int, asyncio.Task[Outcome]]] = []
        async with asyncio.TaskGroup() as group:
            for task_id, payload, token in claimed:
                assert token is not None
                runs.append((task_id, token, group.create_task(self._run(payload))))
        await self._record([(task_id, token, run.result()) for task_id, token, run in runs])
        return len(claimed)

    async def _claim(self, task_id: str) -> int | None:
        """Claim a task: at once if never claimed, else only from a node seen dead (or
        from this node's earlier life: this worker, its only one on this queue, is not
        running it). The token, or None."""
        owner = self.queue.owner(task_id)
        holder = Holder(owner, None, 0, False)  # optimistic: most tasks were never claimed
        for _ in range(2):
            dead: int | None = None
            if not holder.free and holder.node != self.membership.node_id:
                assert holder.node is not None
                dead = self.membership.watch.dead_version(holder.node, self.membership.now())
                if dead is None:
                    return None
            ops = acquire_ops(owner, self.membership.node_id, holder, dead)
            try:
                result = await self._io(self.queue.store.write(ops))
            except VersionConflict:
                holder = await self._io(read_holder(self.queue.store, owner))
                continue
            except StoreError:
                return None
            token: int = result.versions[(lease_namespace(owner), HOLDER)]
            return token
        return None

    async def _run(self, payload: bytes) -> Outcome:
        node = self.membership.node_id
        try:
            return Outcome(node, True, await self.handler(payload))
        except Exception as exc:  # noqa: BLE001 -- a handler's failure is the task's outcome, recorded, not swallowed
            return Outcome(node, False, error=f"{type(exc).__name__}: {exc}")

    async def _record(self, done: list[tuple[str, int, Outcome]]) -> None:
        """Record the round's outcomes: one fenced batch per task, all submitted together,
        so the store commits them in one group (one round trip for the round)."""
        if not self.membership.valid():
            self.rejected += len(done)
            return  # the lease ran out meanwhile: write nothing, the tasks move on
        submitted = []
        for task_id, token, outcome in done:
            ops = self.queue.completion_ops(task_id, token, outcome)
            try:
                submitted.append((ops, await self._io(self.queue.store.submit(ops))))
            except (StoreError, TimeoutError):
                self.rejected += 1  # not sent: the claim lapses with this node, or completes
        for ops, fut in submitted:
            await self._settle(ops, fut)

    async def _settle(self, ops: list[Op], fut: asyncio.Future[Any]) -> None:
        try:
            await self._io(asyncio.shield(fut))
        except VersionConflict as exc:
            if exc.context.get("namespace") != self.queue.done_namespace:
                self.rejected += 1  # fenced out: another node owns the task now
                return
            # done already (a claim raced a completion): only retire it
            retire = [op for op in ops if not isinstance(op, Put)]
            try:
                await self._io(self.queue.store.write(retire))
            except (StoreError, TimeoutError):
                self.rejected += 1
                return
        except (StoreError, TimeoutError):
            self.rejected += 1  # unknown: the claim lapses with this node, or completes
            return
        self.completed += 1

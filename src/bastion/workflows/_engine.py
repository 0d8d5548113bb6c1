"""``open_workflows``: a supervised engine that runs ``@workflow`` functions on a store.

::

    engine = await bastion.open_workflows(rt, store=store)
    handle = await engine.start(review, "doc-1", workflow_id="review-doc-1")
    print(await handle.result(timeout=60.0))

Starting writes the workflow (idempotent by id: a second start of the same id returns
a handle to the first) and runs it in a task owned by the engine actor. Steps write
their results straight to the store, one batch per step; concurrent workflows share
the store's group commits. Closing the engine stops the runs; opening one again on the
same store resumes every active workflow from its history.

Several nodes on one store (``partitions=N``): each node's engine runs only the
workflows of the partitions its :class:`~bastion.cluster.Node` holds (the node hosts
``engine.hosted()``); any node may start, steer and read any workflow. See
``_partitions`` and ``docs/workflows.md``.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import msgspec

from bastion._core._childspec import ChildSpec
from bastion._core._durations import positive_seconds
from bastion._core._errors import RuntimeClosed
from bastion._core._runtime import Runtime
from bastion._core._supervisor_handle import SupervisorHandle
from bastion.cluster import Hosted
from bastion.persistence import (
    Codec,
    Durability,
    Op,
    Put,
    PutItem,
    StateStore,
    VersionConflict,
    default_codec,
)
from bastion.workflows._actor import EngineActor
from bastion.workflows._core import EngineCore
from bastion.workflows._definitions import WorkflowDefinition, find_definition, local_table
from bastion.workflows._handle import WorkflowHandle
from bastion.workflows._inspect import StepInfo, WorkflowInfo, WorkflowStore, check_workflow_id
from bastion.workflows._partitions import (
    Ownership,
    check_partition_count,
    hosted_partitions,
    owned_store,
)
from bastion.workflows._records import (
    ACTIVE_COLLECTION,
    FENCE,
    INBOX,
    INPUT,
    META,
    NULL,
    Input,
    Meta,
    WorkflowStatus,
    encode,
    inbox_key,
    namespace_of,
)
from bastion.workflows._results import EngineResults
from bastion.workflows._run import Run
from bastion.workflows._wall import wall_clock

__all__ = [
    "WorkflowEngine",
    "WorkflowEngineStatistics",
    "launch_started",
    "open_workflows",
    "prepare_start",
    "start_run",
]


@dataclass(frozen=True, slots=True)
class WorkflowEngineStatistics:
    """A snapshot of an engine: workflows in memory and counters since it opened."""

    name: str
    active: int  #: active workflows this engine holds (running or queued)
    running: int  #: with a task now
    queued: int  #: waiting for a slot under ``max_running``
    refused: int  #: active in the store, but this process cannot run them
    started: int
    resumed: int
    finished: int
    fenced: int  #: runs stopped because their workflow was cancelled under them
    faults: int  #: store failures that restarted the engine actor


async def open_workflows(
    runtime: Runtime,
    *,
    store: StateStore,
    name: str = "workflows",
    durability: Durability | str = Durability.BATCHED,
    codec: Codec | None = None,
    max_running: int = 10_000,
    max_inbox: int = 1000,
    write_timeout: float = 30.0,
    workflows: Collection[WorkflowDefinition] = (),
    partitions: int | None = None,
    discover_every: float = 1.0,
) -> WorkflowEngine:
    """Start a workflow engine on ``store`` under its own supervisor and resume its work.

    ``durability``: with ``batched`` (default) and ``strict`` a step runs only once the
    record of the step before it is committed; ``memory`` does not wait (a crash may
    then re-run a step whose successor already ran). ``max_running``: workflows in
    memory with a task at once, sleeping and waiting ones included (the rest wait in
    order). ``max_inbox``: unread messages per workflow before ``send`` refuses.
    ``workflows``: definitions this engine finds before those registered by ``@workflow``.

    ``partitions``: the store is shared by several nodes; the workflows are split into
    this many partitions and the engine runs those whose partition lease its
    :class:`~bastion.cluster.Node` holds (spawn the node with ``agents=engine.hosted()``);
    every node of the store must use the same number (ValueError otherwise, also for an
    engine without partitions on a partitioned store). ``discover_every``: how often a
    partitioned engine reads the index for workflows started on other nodes (and
    messages sent from them), and how often a wait for a result run elsewhere reads it.
    """
    if not isinstance(runtime, Runtime):
        raise TypeError(f"open_workflows needs a bastion Runtime, got {runtime!r}")
    if not isinstance(store, StateStore):
        raise TypeError(f"store must be a bastion StateStore, got {store!r}")
    for label, value in (("max_running", max_running), ("max_inbox", max_inbox)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be an int >= 1, got {value!r}")
    positive_seconds("write_timeout", write_timeout)
    positive_seconds("discover_every", discover_every)
    if partitions is not None and (
        isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1
    ):
        raise ValueError(f"partitions must be an int >= 1 or None, got {partitions!r}")
    await check_partition_count(store, partitions)
    ownership = None if partitions is None else Ownership(partitions)
    local = local_table(workflows)
    core = EngineCore(
        runtime,
        store if ownership is None else owned_store(store, ownership),
        codec if codec is not None else default_codec(),
        durability=Durability(durability),
        write_timeout=write_timeout,
        max_inbox=max_inbox,
        max_running=max_running,
        local=local,
    )
    core.wall = wall_clock(runtime.loop)
    if ownership is not None:
        core.ownership, core.discover_every = ownership, discover_every
        ownership.on_owned = lambda _number: core.scan()
        ownership.on_disowned = core.drop_partition
    spec = ChildSpec("engine", EngineActor, kwargs={"core": core}, name=name)
    supervisor = await runtime.start_supervisor([spec], name=f"{name}-supervisor")
    return WorkflowEngine._create(name, core, supervisor, store)


class WorkflowEngine(EngineResults):
    """Starts, steers and reads durable workflows (from :func:`open_workflows`)."""

    def __init__(
        self, name: str, core: EngineCore, supervisor: SupervisorHandle, store: StateStore
    ) -> None:
        """Use :func:`open_workflows`."""
        self.name = name
        self._core = core
        self._supervisor = supervisor
        self._shared = store  # (the runs of a partitioned engine write through core.store)
        self.store = WorkflowStore(
            store, codec=core.codec, wall=core.wall, index_namespace=core.index_namespace
        )
        self.closed = False

    @classmethod
    def _create(
        cls, name: str, core: EngineCore, supervisor: SupervisorHandle, store: StateStore
    ) -> WorkflowEngine:
        return cls(name, core, supervisor, store)

    def hosted(self) -> list[Hosted]:
        """The partitions as :class:`~bastion.cluster.Hosted` actors for this process's
        :class:`~bastion.cluster.Node` (``agents=[..., *engine.hosted()]``): the node
        that holds a partition's lease runs its workflows. ValueError without
        ``partitions``."""
        ownership = self._core.ownership
        if ownership is None:
            raise ValueError(
                f"workflow engine {self.name!r} has no partitions: open it with "
                "open_workflows(..., partitions=N) to run it on cluster nodes"
            )
        return hosted_partitions(ownership)

    # -- starting ----------------------------------------------------------------------------
    async def start(
        self,
        workflow: WorkflowDefinition | str,
        /,
        *args: Any,
        workflow_id: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> WorkflowHandle:
        """Start ``workflow(ctx, *args, **kwargs)``; returns once the start is committed.

        Idempotent by ``workflow_id`` (default: a random id): if it exists (running or
        finished), nothing starts and the handle is the existing workflow's.
        ``timeout``: seconds the workflow may run (default: the definition's), stored
        as a deadline.
        """
        self._check_open()
        definition = _definition(workflow, self._core.local)
        wid = uuid.uuid4().hex if workflow_id is None else check_workflow_id(workflow_id)
        await start_run(self._core, self._shared, definition, wid, args, kwargs, timeout)
        return WorkflowHandle(self, wid)

    async def _commit(self, ops: list[Any]) -> None:
        await self._core.commit(ops, self._shared)

    def handle(self, workflow_id: str) -> WorkflowHandle:
        """A handle to an existing workflow (no check that it exists)."""
        return WorkflowHandle(self, check_workflow_id(workflow_id))

    # -- steering ------------------------------------------------------------------------------
    async def cancel(self, workflow_id: str) -> WorkflowInfo:
        """Cancel the workflow: its running step is cancelled, a late result rejected."""
        info = await self.store.cancel(workflow_id)
        core = self._core
        task = core.tasks.get(workflow_id)
        if task is not None:
            task.cancel()
        core.active.pop(workflow_id, None)
        core.resolve(workflow_id, await self.store._meta(workflow_id), None)
        return info

    async def resume(self, workflow_id: str) -> WorkflowInfo:
        """Run a cancelled or failed workflow again from its recorded steps (a failed step
        runs again); a running one is left alone."""
        info = await self.store.resume(workflow_id)
        self._core.refused.pop(workflow_id, None)
        self._core.requeue(workflow_id)
        return info

    async def fork(
        self, workflow_id: str, *, from_step: int, new_id: str | None = None
    ) -> WorkflowHandle:
        """Start a copy of a workflow that reuses its recorded steps before ``from_step``."""
        new = uuid.uuid4().hex if new_id is None else new_id
        await self.store.fork(workflow_id, from_step=from_step, new_id=new)
        self._core.requeue(new)
        return WorkflowHandle(self, new)

    # -- messages and events ---------------------------------------------------------------------
    async def send(self, workflow_id: str, topic: str, value: Any) -> None:
        """Send ``value`` to the workflow's inbox on ``topic`` (read by ``ctx.recv``).

        Committed before it returns. Raises UnknownWorkflow, WorkflowFinished, or
        InboxFull past ``max_inbox`` unread messages (nothing sent).
        """
        self._check_open()
        check_workflow_id(workflow_id)
        if not isinstance(topic, str) or not topic or "\x00" in topic:
            raise ValueError(f"a topic must be a non-empty string without NUL, got {topic!r}")
        core = self._core
        data = core.codec.encode(value)
        await core.check_target(workflow_id)
        key = inbox_key(topic, core.sequence())
        await self._commit([PutItem(namespace_of(workflow_id), INBOX, key, data)])
        core.deliver(workflow_id, topic, key, data)

    # -- reading -------------------------------------------------------------------------------
    async def list(self, **filters: Any) -> builtins.list[WorkflowInfo]:
        """Stored workflows, filtered (see :meth:`WorkflowStore.list`)."""
        return await self.store.list(**filters)

    async def get(self, workflow_id: str) -> WorkflowInfo:
        """One stored workflow."""
        return await self.store.get(workflow_id)

    async def steps(self, workflow_id: str) -> builtins.list[StepInfo]:
        """The recorded steps of a workflow."""
        return await self.store.steps(workflow_id)

    def statistics(self) -> WorkflowEngineStatistics:
        """A snapshot of the engine."""
        core = self._core
        c = core.counts
        return WorkflowEngineStatistics(
            name=self.name,
            active=len(core.active),
            running=len(core.tasks),
            queued=len(core.ready) + len(core.to_load),
            refused=len(core.refused),
            started=c["started"],
            resumed=c["resumed"],
            finished=c["finished"],
            fenced=c["fenced"],
            faults=c["faults"],
        )

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeClosed(f"workflow engine {self.name!r} is closed")

    # -- life ----------------------------------------------------------------------------------
    async def close(self, *, timeout: float = 5.0) -> None:
        """Stop the engine's runs (their progress is stored). Idempotent."""
        if not self.closed:
            self.closed = True
            await self._supervisor.stop(timeout=timeout)

    async def __aenter__(self) -> WorkflowEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<WorkflowEngine {self.name!r} active={len(self._core.active)}>"


async def start_run(
    core: EngineCore,
    store: StateStore,
    definition: WorkflowDefinition,
    wid: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float | None = None,
) -> bool:
    """Write workflow ``wid``'s start to ``store`` and, once committed, run it on ``core``.

    False if the workflow exists already (running or finished: nothing starts).
    ``timeout``: seconds the workflow may run (default: the definition's).
    """
    ops, run = prepare_start(core, definition, wid, args, kwargs, timeout)
    if wid in core.active or wid in core.starting:
        return False
    core.starting.add(wid)
    try:
        await core.commit(ops, store)
    except VersionConflict:
        return False  # it exists already: idempotent start
    finally:
        core.starting.discard(wid)
    launch_started(core, run)
    return True


def prepare_start(
    core: EngineCore,
    definition: WorkflowDefinition,
    wid: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float | None = None,
    *,
    encoded_args: bytes | None = None,
) -> tuple[list[Op], Run]:
    """The write that starts workflow ``wid`` (it fails with VersionConflict if the
    workflow exists) and the run to hand to :func:`launch_started` once it committed.

    ``encoded_args``: ``args`` as the caller encoded them (a typed encoding that the
    engine's codec decodes back to the same builtins), instead of encoding them here."""
    limit = definition.timeout if timeout is None else timeout
    if limit is not None:
        positive_seconds("workflow timeout", limit)
    now = core.wall()
    meta = Meta(
        name=definition.name,
        version=definition.version,
        status=WorkflowStatus.RUNNING,
        created_at=now,
        updated_at=now,
        deadline=None if limit is None else now + limit,
    )
    stored = Input(
        args=msgspec.Raw(encoded_args or core.codec.encode(list(args))),
        kwargs=msgspec.Raw(core.codec.encode(kwargs)) if kwargs else NULL,
    )
    namespace = namespace_of(wid)
    ops: list[Op] = [
        Put(namespace, META, encode(meta), expected_version=0),
        Put(namespace, INPUT, encode(stored)),
        Put(namespace, FENCE, b"", expected_version=0),
        PutItem(core.index_namespace, ACTIVE_COLLECTION, wid, definition.name.encode()),
    ]
    return ops, Run(core, wid, namespace, definition, meta, 1, {}, {}, args, kwargs)


def launch_started(core: EngineCore, run: Run) -> None:
    """Run a workflow whose start (from :func:`prepare_start`) committed."""
    core.counts["started"] += 1
    core.enqueue(run)


def _definition(
    workflow: WorkflowDefinition | str, local: dict[str, dict[str, WorkflowDefinition]]
) -> WorkflowDefinition:
    if isinstance(workflow, WorkflowDefinition):
        return workflow
    if isinstance(workflow, str):
        found = find_definition(workflow, None, local)
        if found is None:
            raise ValueError(f"no workflow named {workflow!r} is registered")
        return found
    raise TypeError(f"start needs a @workflow function or its name, got {workflow!r}")

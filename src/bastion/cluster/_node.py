"""``Node``: one process's share of the agents of a cluster on one shared store.

Every node of a cluster is started with the same list of :class:`Hosted` agents (and
of shared queues, see ``_queue``) and a unique ``node_id``. Each node renews its
heartbeat, and every ``check_every`` it looks at the agents' leases: it acquires free
ones and the ones of nodes whose heartbeat it saw dead, up to its fair share
(``ceil(agents / live nodes)``), and releases one when it holds more (a node joined).
For each lease it holds it runs the agent under its own
one-child supervisor, with a :class:`~bastion.cluster.FencedStore` as its store: the
agent restores from the shared store (the ordinary ``PersistentAgent`` restore) and
every write it makes carries the lease's token.

When the node cannot renew its heartbeat before its own deadline (``duration - margin``
after the last renewal it sent), it stops every agent and writes nothing more under the
old tokens; it keeps renewing and claims leases again once the store answers. A write
refused for a lost lease stops the agents at once, before the error reaches them: a
node frozen past its deadline (``SIGSTOP``, a long pause) whose agents run before the
node's own check stops them cleanly (``shutdown``), none crashes on ``LeaseLost``.
The node's process dying needs nothing: its heartbeat stops changing and the other
nodes take its agents over after ``duration``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bastion._core._actor import Actor
from bastion._core._childspec import ChildSpec, Restart
from bastion._core._errors import ActorNotAlive, MailboxFull, StartFailed
from bastion._core._intensity import RestartIntensity
from bastion._core._messages import Down, MonitorRef
from bastion._core._supervisor_handle import SupervisorHandle
from bastion._core._timers import Timer
from bastion.cluster._errors import NodeIdTaken
from bastion.cluster._fenced import FencedStore, fenced_store
from bastion.cluster._hosted import Hosted, NodeStatistics
from bastion.cluster._lease import (
    BEAT,
    NODES,
    Beat,
    BeatWatch,
    Holder,
    LeaseOptions,
    acquire_ops,
    beat_data,
    node_namespace,
    read_beat,
    read_holder,
    release_ops,
)
from bastion.cluster._queue import Membership, QueueWorker, SharedQueue, TaskHandler
from bastion.persistence import Put, StateStore, StoreError, VersionConflict

__all__ = ["Hosted", "Node", "NodeStatistics"]  # (Hosted and NodeStatistics: _hosted)


@dataclass(slots=True)
class _Owned:
    spec: Hosted
    store: FencedStore
    supervisor: SupervisorHandle
    monitor: MonitorRef


@dataclass(frozen=True, slots=True)
class _Tick:
    pass


@dataclass(frozen=True, slots=True)
class _Lapsed:
    """An agent's write found the lease lost; its agents were stopped: tidy up."""


@dataclass(frozen=True, slots=True)
class _Deadline:
    """The node's lease runs out at ``at`` unless a renewal came after the timer was set."""

    at: float


#: The counters of :class:`NodeStatistics`.
_COUNTS: tuple[str, ...] = ("renewals", "renew_failures", "check_failures", "acquired")
_COUNTS += ("released", "stepped_down", "lost")
#: A hosted agent's supervisor: a few restarts for crashes, then the node decides.
_AGENT_INTENSITY = RestartIntensity(3, 5.0)


class Node(Actor):
    """The cluster runtime of one process (see the module docstring)."""

    def __init__(
        self,
        *,
        store: StateStore,
        node_id: str,
        agents: Sequence[Hosted] = (),
        queues: Mapping[str, TaskHandler] | None = None,
        lease: LeaseOptions | None = None,
    ) -> None:
        if not isinstance(node_id, str) or not node_id or "/" in node_id:
            raise ValueError(f"node_id must be a non-empty str without '/': {node_id!r}")
        keys = [a.key for a in agents]
        if len(set(keys)) != len(keys):
            raise ValueError(f"hosted agent keys must be unique: {keys}")
        self.store = store
        self.node_id = node_id
        self.options = lease if lease is not None else LeaseOptions()
        self._specs = sorted(agents, key=lambda a: zlib.crc32(f"{node_id}/{a.key}".encode()))
        self._watch = BeatWatch(self.options.duration)
        self._queues = dict(queues or {})
        self._workers: SupervisorHandle | None = None
        self._ticker: Timer | None = None
        self._owned: dict[str, _Owned] = {}
        self._cooling: dict[str, float] = {}  # key -> until when this node leaves it alone
        self._beat_version = 0
        self._incarnation = uuid.uuid4().hex
        self._valid_until: float | None = None
        self._stepped_down = False
        self._last_renewal: float | None = None
        self._live = 1
        self._counts = dict.fromkeys(_COUNTS, 0)

    # -- lifecycle -----------------------------------------------------------------------
    async def on_start(self) -> None:
        """Read this node's heartbeat version, renew it once, start the checks."""
        beat = await self._io(read_beat(self.store, self.node_id))
        self._beat_version = beat.version
        await self._renew()
        self._ticker = self.send_interval(self.options.check, _Tick())
        await self._balance()
        if self._queues:
            await self._start_workers()

    async def _start_workers(self) -> None:
        membership = Membership(self.node_id, self._valid, self._watch, self._now)
        children = [
            ChildSpec(
                id=f"queue:{name}",
                actor=QueueWorker,
                kwargs={
                    "queue": SharedQueue(self.store, name),
                    "handler": handler,
                    "membership": membership,
                    "poll": self.options.check,
                    "io_timeout": self.options.timeout,
                },
            )
            for name, handler in self._queues.items()
        ]
        self._workers = await self.runtime.start_supervisor(children)

    async def on_stop(self, reason: Any) -> None:
        """Stop every agent, release their leases, mark the heartbeat stopped."""
        if self._ticker is not None:
            self._ticker.cancel()  # (ticks queued while it stops would be dead letters)
        if self._workers is not None:
            await self._workers.stop()
        for key in list(self._owned):
            await self._let_go(key, release=True)
        if self._valid():
            data = beat_data(self.node_id, self.options.duration, self._incarnation, stopped=True)
            ns = node_namespace(self.node_id)
            with contextlib.suppress(StoreError, TimeoutError):  # else: others see it stop
                await self._io(self.store.write([Put(ns, BEAT, data, self._beat_version)]))

    async def handle_info(self, message: Any) -> None:
        """Periodic checks and the end of a hosted agent's supervisor."""
        if isinstance(message, _Tick):
            await self._tick()
        elif isinstance(message, _Deadline):
            if message.at == self._valid_until and self._owned:
                await self._step_down("its heartbeat was not renewed before its deadline")
        elif isinstance(message, Down):
            await self._agent_down(message)

    async def handle_cast(self, message: Any) -> None:
        """An agent's write found the lease lost (see :meth:`_lease_lost`)."""
        if isinstance(message, _Lapsed):
            await self._tick()

    def statistics(self) -> NodeStatistics:
        """What this node holds and counted."""
        return NodeStatistics(
            node_id=self.node_id,
            owned=tuple(sorted(self._owned)),
            live_nodes=self._live,
            lease_valid=self._valid(),
            **self._counts,
        )

    # -- time and the node's own lease -----------------------------------------------------
    def _now(self) -> float:
        return self.runtime.clock.now()

    def _valid(self) -> bool:
        return self._valid_until is not None and self._now() < self._valid_until

    async def _io(self, awaitable: Any) -> Any:
        async with asyncio.timeout(self.options.timeout):
            return await awaitable

    async def _tick(self) -> None:
        if self._valid_until is not None and not self._valid():
            await self._step_down("its heartbeat was not renewed before its deadline")
        last = self._last_renewal
        if last is None or self._now() - last >= self.options.renew:
            await self._renew()
        for key in [k for k, o in self._owned.items() if o.store.lost]:
            self._counts["lost"] += 1
            await self._let_go(key, release=False)
        if self._valid():
            try:
                await self._balance()
            except (StoreError, TimeoutError):
                self._counts["check_failures"] += 1  # the store is away: the next check

    async def _renew(self) -> None:
        sent = self._now()
        self._last_renewal = sent
        ns = node_namespace(self.node_id)
        data = beat_data(self.node_id, self.options.duration, self._incarnation)
        try:
            result = await self._io(self.store.write([Put(ns, BEAT, data, self._beat_version)]))
        except VersionConflict as exc:
            await self._adopt_own_beat(exc)
            return
        except (StoreError, TimeoutError):
            self._counts["renew_failures"] += 1
            return
        self._beat_version = result.versions[(ns, BEAT)]
        self._stepped_down = False
        self._valid_until = until = sent + self.options.duration - self.options.safety_margin
        self.send_after(max(0.0, until - self._now()), _Deadline(until))
        self._counts["renewals"] += 1

    async def _adopt_own_beat(self, conflict: VersionConflict) -> None:
        """A renewal found a newer heartbeat: one of ours whose answer timed out after it
        committed (take its version, renew next time), or another process's."""
        self._counts["renew_failures"] += 1
        try:
            beat = await self._io(read_beat(self.store, self.node_id))
        except (StoreError, TimeoutError):
            return
        if beat.incarnation != self._incarnation:
            raise NodeIdTaken(
                f"another process renews the heartbeat of node {self.node_id!r}",
                context={"node_id": self.node_id},
            ) from conflict
        self._beat_version = beat.version
        self._last_renewal = None  # renew at the next check

    async def _step_down(self, why: str) -> None:
        """Stop every agent without writing: the leases may belong to others by now.

        Counted once per lapse of the node's lease (until its next renewal), however it
        was noticed: the deadline, a check, or an agent's refused write.
        """
        if not self._stepped_down:
            self._stepped_down = True
            self._counts["stepped_down"] += 1
        self._stop_now(list(self._owned))
        for key in list(self._owned):
            await self._let_go(key, release=False)

    # -- claiming and releasing --------------------------------------------------------------
    async def _balance(self) -> None:
        now = self._now()
        for name in await self._io(self.store.namespaces(NODES)):
            node = name[len(NODES) :]
            if node != self.node_id:
                self._watch.observe(await self._io(read_beat(self.store, node)), now)
        self._live = len(set(self._watch.alive(now)) | {self.node_id})
        share = math.ceil(len(self._specs) / self._live)
        if len(self._owned) > share:
            await self._let_go(next(reversed(self._owned)), release=True)
            return
        for spec in self._specs:
            if not self._valid():
                return
            if spec.key in self._owned or self._cooling.get(spec.key, 0.0) > now:
                continue
            holder = await self._io(read_holder(self.store, spec.owner))
            if holder.node == self.node_id and not holder.free and len(self._owned) >= share:
                # held in this node's name but not run here (a release that failed, an
                # earlier life of this node): hand it back, or nobody would run it
                await self._release(spec.owner, holder.token)
                continue
            if len(self._owned) >= share:
                continue
            dead = self._claimable(holder, now)
            if dead is not False:
                await self._acquire(spec, holder, dead)

    def _claimable(self, holder: Holder, now: float) -> int | bool | None:
        """False if ``holder`` still holds; else the dead heartbeat version to fence on."""
        if holder.free or holder.node == self.node_id:
            return None
        assert holder.node is not None
        dead = self._watch.dead_version(holder.node, now)
        if dead is None and holder.node not in self._watch.alive(now):
            self._watch.observe(Beat(holder.node, 0, None, False), now)  # never seen: watch it
        return False if dead is None else dead

    async def _acquire(self, spec: Hosted, holder: Holder, dead: int | None) -> None:
        ops = acquire_ops(spec.owner, self.node_id, holder, dead)
        try:
            result = await self._io(self.store.write(ops))
        except (StoreError, TimeoutError):
            return  # another node was faster, or the store is away: next check
        token = result.versions[(f"lease/{spec.owner}", "holder")]
        lost = functools.partial(self._lease_lost, spec.key)
        store = fenced_store(self.store, spec.owner, token, valid=self._valid, on_lost=lost)
        child = ChildSpec(
            id=spec.key,
            actor=spec.actor,
            kwargs={**spec.kwargs, "store": store, "persistence_key": spec.key},
            name=spec.key,
            restart=Restart.TRANSIENT,  # a crash restarts it; a stop for a lost lease not
        )
        try:
            handle = await self.runtime.start_supervisor([child], intensity=_AGENT_INTENSITY)
        except StartFailed:
            self._cooling[spec.key] = self._now() + self.options.duration
            store.revoke()
            await self._release(spec.owner, token)
            return
        self._owned[spec.key] = _Owned(spec, store, handle, self.monitor(handle.ref))
        self._counts["acquired"] += 1

    def _lease_lost(self, key: str) -> None:
        """``key``'s store refused a write for a lost lease (called in the writer's task,
        before the writer sees the error): stop the agents concerned now, every agent if
        the node's own lease ran out. A ``shutdown`` kill cancels each where it waits, so
        none acts on the lost lease or crashes on it; the next check tidies up."""
        self._stop_now([key] if self._valid() else list(self._owned))
        with contextlib.suppress(MailboxFull, ActorNotAlive):  # (the checks tidy up too)
            self.ref.cast_nowait(_Lapsed())

    def _stop_now(self, keys: list[str]) -> None:
        """Refuse the agents' writes and end them at once, all together (a ``shutdown``
        kill: cancelled where they wait, not restarted, no crash), so none of them acts
        on a lost lease while another one is being stopped."""
        for key in keys:
            owned = self._owned.get(key)
            if owned is None:
                continue
            owned.store.revoke()
            cell = owned.supervisor.child(key)._resolve_or_none()
            if cell is not None:
                cell.kill("shutdown")

    async def _let_go(self, key: str, *, release: bool) -> None:
        """Stop a hosted agent; with ``release``, hand its lease back after its last save."""
        owned = self._owned.pop(key)
        self.demonitor(owned.monitor)
        try:
            await owned.supervisor.stop()
        finally:
            owned.store.revoke()
            if release and self._valid():
                await self._release(owned.spec.owner, owned.store.token)

    async def _release(self, owner: str, token: int) -> None:
        try:
            await self._io(self.store.write(release_ops(owner, self.node_id, token)))
        except (StoreError, TimeoutError):
            return  # the lease runs out with this node's heartbeat, or was taken over
        self._counts["released"] += 1

    async def _agent_down(self, message: Down) -> None:
        """A hosted agent's supervisor gave up: let the lease go, leave the key a while."""
        for key, owned in list(self._owned.items()):
            if owned.monitor == message.monitor:
                del self._owned[key]
                owned.store.revoke()
                self._cooling[key] = self._now() + self.options.duration
                if self._valid():
                    await self._release(owned.spec.owner, owned.store.token)

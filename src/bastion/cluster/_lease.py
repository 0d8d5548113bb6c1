"""Leases with fencing tokens, kept as records of the shared store.

A lease makes one node the owner of an *owner key* (``"agent/<key>"``, a workflow's
key, a queued task...). It is two kinds of records, written only with compare-and-set:

* the **holder** record ``lease/<owner>`` / ``holder``: which node holds it and whether
  it was released. Its *version* is the **fencing token**: every acquisition bumps it,
  and each batch of the holder carries ``Fence(lease/<owner>, holder, token)``, so the
  store rejects a batch of a holder that was replaced, atomically with the batch;
* each node's **heartbeat** ``lease/node/<id>`` / ``beat``, renewed every
  ``renew_every``. A node's leases live as long as its heartbeat does: renewing one
  record keeps every lease of the node.

**Time.** No wall clock is compared between machines. A contender counts a heartbeat
dead once it saw the *same version* for the heartbeat's ``duration`` on its own
monotonic clock; the holder counts its leases valid until ``duration - margin`` after it
*sent* its last successful renewal. The renewal committed before the contender read it,
so the holder's deadline comes at least ``margin`` before the contender's, whatever the
two clocks read, as long as they run at about the same rate (``margin`` also covers the
time to stop the agents). A wall-clock step (NTP) on either machine changes nothing.
Safety never depends on timing: a paused holder that wakes late is fenced out by the
store; timing only decides how soon a dead node's work moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from bastion._core._durations import positive_seconds
from bastion.persistence import Fence, Op, Put, StateStore

__all__ = [
    "BEAT",
    "HOLDER",
    "BeatWatch",
    "Holder",
    "LeaseOptions",
    "acquire_ops",
    "beat_data",
    "fence_for",
    "lease_namespace",
    "node_namespace",
    "read_beat",
    "read_holder",
    "release_ops",
]

LEASES = "lease/"
NODES = "lease/node/"
HOLDER = "holder"
BEAT = "beat"


@dataclass(frozen=True, slots=True)
class LeaseOptions:
    """Lease timing of a node (seconds of each node's own monotonic clock).

    * ``duration``: how long a heartbeat may stay unchanged before other nodes take the
      node's leases over (the failover time is about ``duration + check_every``);
    * ``renew_every``: how often the node renews its heartbeat (default ``duration / 4``);
    * ``margin``: the node stops its agents this long before others may take over
      (default ``duration / 4``): room for clock-rate drift and for stopping;
    * ``check_every``: how often the node looks for free or expired leases and checks
      its own deadline (default ``duration / 10``);
    * ``io_timeout``: the deadline of each store call of the lease machinery
      (default ``renew_every``).
    """

    duration: float = 10.0
    renew_every: float | None = None
    margin: float | None = None
    check_every: float | None = None
    io_timeout: float | None = None

    def __post_init__(self) -> None:
        positive_seconds("duration", self.duration)
        for name in ("renew_every", "margin", "check_every", "io_timeout"):
            value = getattr(self, name)
            if value is not None:
                positive_seconds(name, value)
        if self.renew + self.safety_margin >= self.duration:
            raise ValueError(
                f"renew_every ({self.renew}) + margin ({self.safety_margin}) must be less "
                f"than duration ({self.duration}): the node would step down between renewals"
            )

    @property
    def renew(self) -> float:
        """Seconds between heartbeat renewals."""
        return self.renew_every if self.renew_every is not None else self.duration / 4

    @property
    def safety_margin(self) -> float:
        """Seconds the holder stops before a contender may take over."""
        return self.margin if self.margin is not None else self.duration / 4

    @property
    def check(self) -> float:
        """Seconds between checks for claimable leases and of the node's own deadline."""
        return self.check_every if self.check_every is not None else self.duration / 10

    @property
    def timeout(self) -> float:
        """The deadline of one store call of the lease machinery."""
        return self.io_timeout if self.io_timeout is not None else self.renew


class _HolderData(msgspec.Struct, frozen=True):
    node: str
    released: bool = False


class _BeatData(msgspec.Struct, frozen=True):
    node: str
    duration: float
    stopped: bool = False
    incarnation: str = ""


@dataclass(frozen=True, slots=True)
class Holder:
    """The holder record of a lease: its node, its token (version, 0: never held)."""

    owner: str
    node: str | None
    token: int
    released: bool

    @property
    def free(self) -> bool:
        """Whether anyone may acquire it now (never held, or released)."""
        return self.token == 0 or self.released or self.node is None


def lease_namespace(owner: str) -> str:
    """The namespace of the lease records of ``owner``."""
    return LEASES + owner


def node_namespace(node_id: str) -> str:
    """The namespace of a node's heartbeat."""
    return NODES + node_id


def fence_for(owner: str, token: int) -> Fence:
    """The op that makes a batch conditional on still holding ``owner`` at ``token``."""
    return Fence(lease_namespace(owner), HOLDER, token)


async def read_holder(store: StateStore, owner: str) -> Holder:
    """The current holder of ``owner``'s lease (node None if never held or unreadable)."""
    record = await store.read(lease_namespace(owner), HOLDER)
    if record is None:
        return Holder(owner, None, 0, False)
    try:
        data = msgspec.json.decode(record.data, type=_HolderData)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return Holder(owner, None, record.version, True)  # unreadable: free, token kept
    return Holder(owner, data.node, record.version, data.released)


def acquire_ops(owner: str, node_id: str, holder: Holder, dead_beat: int | None) -> list[Op]:
    """The batch that makes ``node_id`` the holder (token + 1).

    ``dead_beat``: when taking over from a node seen dead, the heartbeat version seen,
    so the takeover fails if that node renewed meanwhile.
    """
    data = msgspec.json.encode(_HolderData(node_id))
    ops: list[Op] = [Put(lease_namespace(owner), HOLDER, data, expected_version=holder.token)]
    if dead_beat is not None and holder.node is not None and not holder.free:
        ops.append(Fence(node_namespace(holder.node), BEAT, dead_beat))
    return ops


def release_ops(owner: str, node_id: str, token: int) -> list[Op]:
    """The batch that releases a held lease (any node may acquire it at once)."""
    data = msgspec.json.encode(_HolderData(node_id, released=True))
    return [Put(lease_namespace(owner), HOLDER, data, expected_version=token)]


def beat_data(node_id: str, duration: float, incarnation: str, *, stopped: bool = False) -> bytes:
    """The heartbeat record of a node (``incarnation``: unique per process)."""
    return msgspec.json.encode(_BeatData(node_id, duration, stopped, incarnation))


@dataclass(frozen=True, slots=True)
class Beat:
    """A node's heartbeat as read: version (0: none), duration, whether it stopped, and
    the process incarnation that wrote it."""

    node: str
    version: int
    duration: float | None
    stopped: bool
    incarnation: str = ""


async def read_beat(store: StateStore, node_id: str) -> Beat:
    """The heartbeat record of ``node_id``."""
    record = await store.read(node_namespace(node_id), BEAT)
    if record is None:
        return Beat(node_id, 0, None, False)
    try:
        data = msgspec.json.decode(record.data, type=_BeatData)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return Beat(node_id, record.version, None, False)
    return Beat(node_id, record.version, data.duration, data.stopped, data.incarnation)


@dataclass(slots=True)
class _Seen:
    version: int
    since: float
    duration: float
    stopped: bool


class BeatWatch:
    """Other nodes' heartbeats as this node saw them, on this node's monotonic clock.

    A heartbeat is *dead* once its version stayed the same for its ``duration`` (or
    ``default_duration`` if it never said) since this node first saw that version, or
    at once if its node stopped cleanly.
    """

    def __init__(self, default_duration: float) -> None:
        self._default = default_duration
        self._seen: dict[str, _Seen] = {}

    def observe(self, beat: Beat, now: float) -> None:
        """Record a heartbeat read at ``now``."""
        seen = self._seen.get(beat.node)
        duration = beat.duration if beat.duration is not None else self._default
        if seen is None or seen.version != beat.version:
            self._seen[beat.node] = _Seen(beat.version, now, duration, beat.stopped)

    def dead_version(self, node_id: str, now: float) -> int | None:
        """The version of ``node_id``'s heartbeat if it is dead, else None."""
        seen = self._seen.get(node_id)
        if seen is None:
            return None
        if seen.stopped or now - seen.since >= seen.duration:
            return seen.version
        return None

    def alive(self, now: float) -> list[str]:
        """The nodes whose heartbeat is not dead (as far as this node saw)."""
        return sorted(n for n in self._seen if self.dead_version(n, now) is None)

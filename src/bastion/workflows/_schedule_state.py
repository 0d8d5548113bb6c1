"""How a schedule is stored: one record per schedule in namespace ``workflow-schedules``.

The record is written with compare-and-set, so two schedulers on one store (two
processes) never both act on one tick; ``last_started`` is written *before* its
workflow is started (the intent), so a crash between the two is repaired on recovery
by starting that tick again, which the engine's idempotent start makes a no-op if it
had started.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from bastion._core._errors import BusinessError
from bastion.persistence import CorruptState, Put, StateStore, VersionConflict

__all__ = [
    "NAMESPACE",
    "ScheduleInfo",
    "ScheduleState",
    "UnknownSchedule",
    "info_of",
    "load_state",
    "read_schedules",
    "set_paused",
    "store_state",
]

NAMESPACE = "workflow-schedules"


class UnknownSchedule(BusinessError):
    """No schedule of that name is stored (or declared)."""


class ScheduleState(msgspec.Struct, kw_only=True):
    """The stored state of one schedule (times are epoch seconds)."""

    spec: str
    workflow: str
    anchor: float  #: when the schedule was first stored (intervals count from it)
    cursor: float  #: every tick up to here was started or counted as skipped
    last_started: float | None = None  #: the newest tick whose workflow was started
    paused: bool = False
    started: int = 0
    skipped_missed: int = 0
    skipped_paused: int = 0


_decoder = msgspec.json.Decoder(ScheduleState)


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    """What ``Schedules.list()`` and ``bastion workflows schedules`` show of one schedule."""

    name: str
    workflow: str
    spec: str
    paused: bool
    last_started: datetime | None
    next_tick: datetime | None
    started: int
    skipped_missed: int  #: ticks missed (process down, or late) and skipped by the policy
    skipped_paused: int  #: ticks that fell while the schedule was paused


def _moment(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def info_of(name: str, state: ScheduleState, next_tick: float | None) -> ScheduleInfo:
    """The public view of a stored state."""
    return ScheduleInfo(
        name=name,
        workflow=state.workflow,
        spec=state.spec,
        paused=state.paused,
        last_started=_moment(state.last_started),
        next_tick=None if state.paused else _moment(next_tick),
        started=state.started,
        skipped_missed=state.skipped_missed,
        skipped_paused=state.skipped_paused,
    )


async def load_state(store: StateStore, name: str) -> tuple[ScheduleState | None, int]:
    """The stored state of schedule ``name`` and its version (``None, 0`` if absent)."""
    record = await store.read(NAMESPACE, name)
    if record is None:
        return None, 0
    try:
        return _decoder.decode(record.data), record.version
    except msgspec.DecodeError as exc:
        raise CorruptState(f"schedule {name!r}: the stored state does not decode: {exc}") from exc


async def store_state(store: StateStore, name: str, state: ScheduleState, version: int) -> int:
    """Write ``state`` if the record is still at ``version``; its new version.

    Raises :class:`VersionConflict` if another writer changed it meanwhile.
    """
    result = await store.write(
        [Put(NAMESPACE, name, msgspec.json.encode(state), expected_version=version)]
    )
    return result.versions[(NAMESPACE, name)]


async def read_schedules(store: StateStore) -> list[tuple[str, ScheduleState]]:
    """Every stored schedule, by name (no scheduler needed)."""
    data = await store.load(NAMESPACE)
    found = []
    for name, record in sorted(data.records.items()):
        try:
            found.append((name, _decoder.decode(record.data)))
        except msgspec.DecodeError as exc:
            raise CorruptState(
                f"schedule {name!r}: the stored state does not decode: {exc}"
            ) from exc
    return found


async def set_paused(store: StateStore, name: str, paused: bool) -> ScheduleState:
    """Pause or resume a stored schedule (a running scheduler sees it at its next tick)."""
    for _ in range(10):
        state, version = await load_state(store, name)
        if state is None:
            raise UnknownSchedule(f"no schedule {name!r} is stored")
        state.paused = paused
        try:
            await store_state(store, name, state, version)
        except VersionConflict:
            continue
        return state
    raise VersionConflict(f"schedule {name!r} kept changing under the write")

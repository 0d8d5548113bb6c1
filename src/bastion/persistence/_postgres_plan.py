"""Planning one group commit of the PostgreSQL store, in Python, before any row is written.

A group is every batch queued while the previous commit was in flight. The batches are
planned in submission order against the record versions read (``FOR UPDATE``) at the
start of the group's transaction: a batch whose compare-and-set fails, or that carries
a bad operation, is rejected whole and leaves no trace in the plan; the others go on.
The plan keeps only the last state of each record and item, so a group costs a few
set-based statements however many batches it carries (check-then-apply: no savepoints).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bastion.persistence._errors import StoreError, VersionConflict
from bastion.persistence._protocol import (
    Delete,
    DeleteItem,
    Fence,
    Op,
    Put,
    PutItem,
    WriteResult,
)

__all__ = ["GroupPlan", "Job", "Outcome", "plan_group", "record_keys"]

RecordKey = tuple[str, str]
ItemKey = tuple[str, str, str]
Outcome = tuple["Job", WriteResult | None, BaseException | None]


@dataclass(slots=True)
class Job:
    """One write batch waiting for its group commit."""

    future: asyncio.Future[Any]
    ops: Sequence[Op] = ()
    sync: bool = False
    size: int = 0


@dataclass(slots=True)
class GroupPlan:
    """The net effect of a group's accepted batches.

    ``bases``: the version each touched record had when the group started (0: absent);
    a record put whose base is 0 is an insert, any other an update of a locked row.
    """

    bases: dict[RecordKey, int] = field(default_factory=dict)
    record_puts: dict[RecordKey, tuple[int, bytes]] = field(default_factory=dict)
    record_dels: set[RecordKey] = field(default_factory=set)
    item_puts: dict[ItemKey, tuple[bytes, int | None]] = field(default_factory=dict)
    item_dels: set[ItemKey] = field(default_factory=set)
    #: ``Fence`` ops of accepted batches on records the group does not write: the version
    #: each must still have when the group's statement runs (checked there, row-locked)
    fences: dict[RecordKey, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True if the plan writes nothing."""
        return not (
            self.record_puts or self.record_dels or self.item_puts or self.item_dels or self.fences
        )


def record_keys(jobs: Iterable[Job]) -> list[RecordKey]:
    """The records the jobs' ``Put``/``Delete``/``Fence`` ops touch (each once): read and
    locked at the start of the group's transaction, so a fence holds until its commit."""
    seen: dict[RecordKey, None] = {}
    for job in jobs:
        for op in job.ops:
            if type(op) is Put or type(op) is Delete or type(op) is Fence:
                seen[(op.namespace, op.key)] = None
    return list(seen)


def plan_group(
    jobs: Sequence[Job], current: dict[RecordKey, int]
) -> tuple[GroupPlan, list[Outcome]]:
    """Plan ``jobs`` in order against ``current`` versions (absent keys: version 0)."""
    plan = GroupPlan()
    versions: dict[RecordKey, int] = {}
    outcomes: list[Outcome] = []
    for job in jobs:
        try:
            outcomes.append((job, _plan_batch(plan, versions, current, job.ops), None))
        except StoreError as exc:  # a failed compare-and-set or a bad op: this batch only
            outcomes.append((job, None, exc))
    return plan, outcomes


def _check_text(*parts: object) -> None:
    for part in parts:
        if not isinstance(part, str):
            raise StoreError(f"store keys must be str, not {type(part).__name__}", retryable=False)
        if "\x00" in part:
            raise StoreError(f"store keys cannot hold NUL characters: {part!r}", retryable=False)


def _check_data(data: object) -> None:
    if not isinstance(data, bytes):
        raise StoreError(f"store data must be bytes, not {type(data).__name__}", retryable=False)


def _plan_batch(
    plan: GroupPlan,
    versions: dict[RecordKey, int],
    current: dict[RecordKey, int],
    ops: Sequence[Op],
) -> WriteResult:
    mine: dict[RecordKey, int] = {}
    for op in ops:  # every check first: a rejected batch leaves no trace
        if isinstance(op, Put | Delete):
            _check_text(op.namespace, op.key)
            if isinstance(op, Put):
                _check_data(op.data)
            key = (op.namespace, op.key)
            now = mine.get(key, versions.get(key, current.get(key, 0)))
            if op.expected_version is not None and op.expected_version != now:
                raise VersionConflict(
                    f"{key[0]}/{key[1]}: expected version {op.expected_version}, found {now}",
                    context={"namespace": key[0], "key": key[1]},
                )
            mine[key] = now + 1 if isinstance(op, Put) else 0
        elif isinstance(op, Fence):
            _check_text(op.namespace, op.key)
            key = (op.namespace, op.key)
            now = mine.get(key, versions.get(key, current.get(key, 0)))
            if op.token != now:
                raise VersionConflict(
                    f"{key[0]}/{key[1]}: fenced at version {op.token}, found {now}",
                    context={"namespace": key[0], "key": key[1]},
                )
        elif isinstance(op, PutItem | DeleteItem):
            _check_text(op.namespace, op.collection, op.item)
            if isinstance(op, PutItem):
                _check_data(op.data)
                if op.order is not None and not -(1 << 63) <= op.order < 1 << 63:
                    raise StoreError(f"item order out of range: {op.order}", retryable=False)
        else:
            raise StoreError(f"not a store operation: {op!r}", retryable=False)
    for op in ops:
        if isinstance(op, PutItem):
            ikey = (op.namespace, op.collection, op.item)
            plan.item_dels.discard(ikey)
            plan.item_puts[ikey] = (op.data, op.order)
        elif isinstance(op, DeleteItem):
            ikey = (op.namespace, op.collection, op.item)
            plan.item_puts.pop(ikey, None)
            plan.item_dels.add(ikey)
        elif isinstance(op, Fence):
            key = (op.namespace, op.key)
            if key not in versions and key not in mine:  # (else a write's base checks it)
                plan.fences.setdefault(key, op.token)
        else:
            key = (op.namespace, op.key)
            plan.bases.setdefault(key, current.get(key, 0))
            if isinstance(op, Put):
                plan.record_dels.discard(key)
                plan.record_puts[key] = (0, op.data)  # the version is set below
            else:
                plan.record_puts.pop(key, None)
                plan.record_dels.add(key)
    for key, version in mine.items():
        versions[key] = version
        if key in plan.record_puts:
            plan.record_puts[key] = (version, plan.record_puts[key][1])
    return WriteResult(mine)

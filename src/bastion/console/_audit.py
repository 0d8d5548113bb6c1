"""The audit journal: every control action, who asked, what it was, why, and what came of it.

The console appends one :class:`AuditEntry` per mutation (accepted or failed) and logs it
on ``bastion.console.audit``. The newest entries are kept in memory; given a state store
(``store=``), every entry is also written there, append-only, before the action answers:
namespace ``console/audit`` (``namespace=``), record ``head`` (the last sequence number,
written with compare-and-set so two writers never share a number) and collection
``entries`` (one JSON item per entry, keyed by the zero-padded sequence number). A
journal opened again on the same store continues the numbering and reads the old entries
(:meth:`AuditJournal.read`; ``bastion console audit --db PATH`` on the command line).
``sink=`` also hands each entry to your own code the moment it is written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass

import msgspec

from bastion.persistence import CorruptState, Put, PutItem, StateStore, VersionConflict

__all__ = ["AUDIT_NAMESPACE", "AuditEntry", "AuditJournal", "read_audit"]

_log = logging.getLogger("bastion.console.audit")
#: Where the console's journal lives in a state store by default.
AUDIT_NAMESPACE = "console/audit"
_HEAD, _ENTRIES, _FORMAT = "head", "entries", 1
_WRITE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One control action: ``who`` did ``action`` on ``target`` because ``why``.

    ``outcome`` is ``ok`` or ``failed``; ``detail`` says what resulted (or why it failed).
    ``at`` is the wall clock (seconds since the epoch); ``seq`` counts from 1.
    """

    seq: int
    at: float
    who: str
    action: str
    target: str
    why: str
    outcome: str
    detail: str


class _Stored(msgspec.Struct, forbid_unknown_fields=True):
    format: int
    seq: int
    at: float
    who: str
    action: str
    target: str
    why: str
    outcome: str
    detail: str


def _item(seq: int) -> str:
    return f"{seq:012d}"


def _decode_entry(data: bytes, seq: int, namespace: str) -> AuditEntry:
    try:
        raw = msgspec.json.decode(data, type=_Stored)
    except msgspec.DecodeError as exc:
        raise CorruptState(f"audit entry {seq} in {namespace!r} is unreadable: {exc}") from None
    if raw.format != _FORMAT or raw.seq != seq:
        raise CorruptState(f"audit entry {seq} in {namespace!r} has format {raw.format}, seq "
                           f"{raw.seq}; this code reads format {_FORMAT}")  # fmt: skip
    return AuditEntry(raw.seq, raw.at, raw.who, raw.action, raw.target, raw.why, raw.outcome,
                      raw.detail)  # fmt: skip


async def _head(store: StateStore, namespace: str) -> int:
    record = await store.read(namespace, _HEAD)
    if record is None:
        return 0
    try:
        seq = msgspec.json.decode(record.data, type=int)
    except msgspec.DecodeError as exc:
        raise CorruptState(f"the audit head in {namespace!r} is unreadable: {exc}") from None
    if seq != record.version:
        raise CorruptState(f"the audit head in {namespace!r} says {seq} after "
                           f"{record.version} writes")  # fmt: skip
    return seq


async def read_audit(
    store: StateStore, namespace: str = AUDIT_NAMESPACE, limit: int = 100
) -> list[AuditEntry]:
    """The newest ``limit`` entries stored under ``namespace``, newest first.

    Raises :class:`~bastion.persistence.CorruptState` (naming the entry) if one cannot be
    decoded; nothing is changed.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be an int >= 1, got {limit!r}")
    last = await _head(store, namespace)
    entries = []
    for seq in range(last, max(last - limit, 0), -1):
        data = await store.read_item(namespace, _ENTRIES, _item(seq))
        if data is None:
            raise CorruptState(f"audit entry {seq} is missing from {namespace!r}")
        entries.append(_decode_entry(data, seq, namespace))
    return entries


class AuditJournal:
    """An append-only journal of control actions (newest ``capacity`` kept in memory;
    every entry in ``store`` when one is given)."""

    def __init__(
        self,
        capacity: int = 1000,
        *,
        sink: Callable[[AuditEntry], None] | None = None,
        store: StateStore | None = None,
        namespace: str = AUDIT_NAMESPACE,
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be an int >= 1, got {capacity!r}")
        if not isinstance(namespace, str) or not namespace:
            raise ValueError(f"namespace must be a non-empty str, got {namespace!r}")
        self._entries: deque[AuditEntry] = deque(maxlen=capacity)
        self._sink = sink
        self._store = store
        self._namespace = namespace
        self._seq = 0
        self._lock = asyncio.Lock()

    @property
    def store(self) -> StateStore | None:
        """The state store entries are persisted to (None: memory only)."""
        return self._store

    async def append(
        self, *, who: str, action: str, target: str, why: str, outcome: str, detail: str
    ) -> AuditEntry:
        """Append an entry, persisted to the store (if any) before this returns.

        Raises :class:`~bastion.persistence.StoreError` if the store refuses the write;
        the entry is then not in the journal.
        """
        if self._store is None:
            return self.record(
                who=who, action=action, target=target, why=why, outcome=outcome, detail=detail
            )
        async with self._lock:
            for _attempt in range(_WRITE_ATTEMPTS):
                seq = await _head(self._store, self._namespace) + 1
                entry = AuditEntry(seq, round(time.time(), 3), who, action, target, why, outcome,
                                   detail)  # fmt: skip
                data = msgspec.json.encode({"format": _FORMAT, **asdict(entry)})
                head = msgspec.json.encode(seq)
                try:
                    await self._store.write(
                        [
                            Put(self._namespace, _HEAD, head, expected_version=seq - 1),
                            PutItem(self._namespace, _ENTRIES, _item(seq), data),
                        ]
                    )
                except VersionConflict:
                    continue  # another writer took this number: read the head again
                self._seq = seq
                return self._keep(entry)
            raise VersionConflict(
                f"the audit journal {self._namespace!r} kept changing under "
                f"{_WRITE_ATTEMPTS} attempts to append"
            )

    def record(
        self, *, who: str, action: str, target: str, why: str, outcome: str, detail: str
    ) -> AuditEntry:
        """Append an entry in memory only (and hand it to the sink); returns it.

        The console uses :meth:`append`, which also persists to the store.
        """
        self._seq += 1
        entry = AuditEntry(self._seq, round(time.time(), 3), who, action, target, why, outcome,
                           detail)  # fmt: skip
        return self._keep(entry)

    def _keep(self, entry: AuditEntry) -> AuditEntry:
        self._entries.append(entry)
        _log.info("console %s %s by %s (%s): %s — %s", entry.action, entry.target, entry.who,
                  entry.why, entry.outcome, entry.detail)  # fmt: skip
        if self._sink is not None:
            self._sink(entry)
        return entry

    async def read(self, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` entries, newest first: from the store when there is one
        (entries of earlier runs included), else from memory."""
        if self._store is None:
            return self.entries(limit)
        return await read_audit(self._store, self._namespace, limit)

    def entries(self, limit: int | None = None) -> list[AuditEntry]:
        """The newest ``limit`` entries kept in memory (all by default), newest first."""
        items = list(reversed(self._entries))
        return items if limit is None else items[:limit]

    def __len__(self) -> int:
        return len(self._entries)

"""Reading and writing flags through a :class:`~bastion.persistence.StateStore`.

Layout (see :mod:`bastion.flags._journal`): namespace ``"<root>/<key>"``, record
``"flag"`` (the definition, its version = the number of changes) and collection
``"journal"`` (one entry per change, ``seq`` 1..version). Loading checks that the
journal is complete and ends in the stored definition; a flag whose data fails any
check is moved to the store's quarantine with the reason (nothing is deleted).
"""

from __future__ import annotations

from dataclasses import dataclass

from bastion.flags._journal import (
    FlagChange,
    FlagDataError,
    decode_change,
    decode_flag,
    encode_change,
    encode_flag,
    journal_item,
)
from bastion.flags._model import Flag, check_key
from bastion.persistence import NamespaceData, Put, PutItem, StateStore

__all__ = ["FlagsStatistics", "QuarantinedFlag", "StoredFlag", "load_flag", "scan", "write_change"]

RECORD = "flag"
JOURNAL = "journal"


@dataclass(frozen=True, slots=True)
class FlagsStatistics:
    """A snapshot of a flag service."""

    namespace: str
    flags: int
    killed: int
    quarantined: int
    changes: int
    conflicts: int
    subscribers: int
    failed_subscribers: int
    closed: bool


@dataclass(frozen=True, slots=True)
class QuarantinedFlag:
    """A flag whose stored data could not be read; it was moved to the store's
    quarantine (``store.quarantined(namespace)`` lists it) and awaits a new ``define``."""

    key: str
    namespace: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class StoredFlag:
    """A flag as loaded: the definition, its record version and its whole journal."""

    flag: Flag
    version: int
    journal: tuple[FlagChange, ...]


def _parse(key: str, data: NamespaceData) -> StoredFlag:
    record = data.records.get(RECORD)
    if record is None:
        raise FlagDataError(f"flag {key!r} has a journal but no definition record")
    flag = decode_flag(record.data, key)
    items = data.collections.get(JOURNAL, [])
    journal = []
    for position, (item, raw) in enumerate(items, start=1):
        if item != journal_item(position):
            raise FlagDataError(f"the journal of flag {key!r} misses entry {position}")
        journal.append(decode_change(raw, key, position))
    if len(journal) != record.version:
        raise FlagDataError(
            f"the journal of flag {key!r} has {len(journal)} entries for version {record.version}"
        )
    if journal[-1].after != flag:
        raise FlagDataError(f"the last journal entry of flag {key!r} differs from its definition")
    extra = set(data.records) - {RECORD}
    if extra or set(data.collections) - {JOURNAL}:
        raise FlagDataError(f"flag {key!r} holds unknown data ({sorted(extra)})")
    return StoredFlag(flag, record.version, tuple(journal))


async def load_flag(store: StateStore, root: str, key: str) -> StoredFlag | QuarantinedFlag | None:
    """The flag stored under ``key``, the quarantine entry if it was corrupt, or None."""
    namespace = f"{root}/{key}"
    data = await store.load(namespace)
    if data.empty:
        return None
    try:
        check_key(key)
        return _parse(key, data)
    except (TypeError, ValueError) as exc:  # FlagDataError, or a key someone else wrote
        entry = await store.quarantine(namespace, str(exc))
        return QuarantinedFlag(key, namespace, entry.reason, entry.at)


async def scan(
    store: StateStore, root: str
) -> tuple[dict[str, StoredFlag], dict[str, QuarantinedFlag]]:
    """Load every flag under ``root``; quarantine the corrupt ones.

    Flags quarantined earlier (by this or another process) and not defined again since
    are reported as quarantined too, so they stay unusable across restarts.
    """
    flags: dict[str, StoredFlag] = {}
    bad: dict[str, QuarantinedFlag] = {}
    prefix = f"{root}/"
    for entry in await store.quarantined(prefix):
        key = entry.namespace[len(prefix) :]
        bad[key] = QuarantinedFlag(key, entry.namespace, entry.reason, entry.at)
    for namespace in await store.namespaces(prefix):
        key = namespace[len(prefix) :]
        loaded = await load_flag(store, root, key)
        if isinstance(loaded, StoredFlag):
            flags[key] = loaded
            bad.pop(key, None)
        elif loaded is not None:
            bad[key] = loaded
    return flags, bad


async def write_change(store: StateStore, root: str, version: int, change: FlagChange) -> None:
    """Write ``change`` (seq = ``version + 1``) and the new definition in one atomic batch.

    Compare-and-set on the record: raises ``VersionConflict`` if another writer got there
    first, and then nothing is written.
    """
    namespace = f"{root}/{change.key}"
    await store.write(
        [
            Put(namespace, RECORD, encode_flag(change.after), expected_version=version),
            PutItem(namespace, JOURNAL, journal_item(change.seq), encode_change(change)),
        ]
    )

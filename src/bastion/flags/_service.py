"""The flag service: :class:`Flags`, bound to a state store.

Reads (:meth:`Flags.evaluate`, :meth:`~Flags.get`, :meth:`~Flags.list`,
:meth:`~Flags.history`) are synchronous and served from memory. Changes
(:meth:`~Flags.define`, :meth:`~Flags.set`, :meth:`~Flags.set_percentage`,
:meth:`~Flags.kill`) are awaited: each is written with its journal entry in one atomic
batch, then takes effect on the next evaluation and is announced to subscribers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, NoReturn, Self

from bastion.flags._errors import FlagConflict, FlagError, FlagExists, FlagStoreCorrupt, UnknownFlag
from bastion.flags._evaluate import CompiledFlag, Evaluation
from bastion.flags._journal import ChangeAction, FlagChange, check_audit_text
from bastion.flags._model import Flag, check_key, check_percentage
from bastion.flags._storage import (
    FlagsStatistics,
    QuarantinedFlag,
    StoredFlag,
    load_flag,
    scan,
    write_change,
)
from bastion.persistence import StateStore, VersionConflict
from bastion.telemetry import cohort as _cohort_block
from bastion.telemetry import set_cohort

__all__ = ["Flags", "FlagsStatistics", "Subscriber"]

_log = logging.getLogger("bastion.flags")

#: A change listener: called after each change is stored and in effect.
Subscriber = Callable[[FlagChange], None]
_WRITE_ATTEMPTS = 3


class Flags:
    """Flag definitions on a state store, with an audited change journal.

    Open with ``await Flags.open(store)`` (``async with`` closes it); the store stays
    the caller's. ``clock`` stamps journal entries (default ``time.time``; pass
    ``rt.clock.now`` for the runtime's, virtual in tests).
    """

    def __init__(self, store: StateStore, namespace: str, clock: Callable[[], float]) -> None:
        """Use :meth:`open`; a bare instance has loaded nothing."""
        self._store = store
        self._root = namespace
        self._clock = clock
        self._stored: dict[str, StoredFlag] = {}
        self._compiled: dict[str, CompiledFlag] = {}
        self._quarantined: dict[str, QuarantinedFlag] = {}
        self._subscribers: dict[int, Subscriber] = {}
        self._next_subscriber = 0
        self._lock = asyncio.Lock()
        self._changes = self._conflicts = self._failed_subscribers = 0
        self._closed = False

    @classmethod
    async def open(
        cls,
        store: StateStore,
        *,
        namespace: str = "flags",
        clock: Callable[[], float] | None = None,
    ) -> Self:
        """Load every flag under ``namespace`` (quarantining corrupt ones) and return the
        service. Flags live in namespaces ``"<namespace>/<key>"``, owned by the service."""
        if not isinstance(namespace, str) or not namespace or namespace.endswith("/"):
            raise ValueError(
                f"namespace must be a non-empty str without a trailing '/', got {namespace!r}"
            )
        self = cls(store, namespace, time.time if clock is None else clock)
        await self.refresh()
        return self

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop accepting changes and drop subscribers; evaluation keeps serving the last
        definitions. The store is not closed (it is the caller's). Idempotent."""
        self._closed = True
        self._subscribers.clear()

    # -- reads -----------------------------------------------------------------

    def evaluate(
        self,
        key: str,
        targeting_key: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        cohort: bool = True,
    ) -> Evaluation:
        """The variant of flag ``key`` for this targeting key (sync, no I/O).

        With ``cohort=True`` the evaluation also sets the metrics cohort of the running
        context to ``"<key>=<variant>"`` (:func:`bastion.telemetry.set_cohort`), so calls
        made while handling this unit of work are measured per variant. Raises
        :class:`UnknownFlag` or :class:`FlagStoreCorrupt`.
        """
        compiled = self._compiled.get(key)
        if compiled is None:
            self._missing(key)
        result = compiled.evaluate(targeting_key, attributes)
        if cohort:
            set_cohort(result.cohort)
        return result

    @contextmanager
    def scope(
        self, key: str, targeting_key: str, attributes: Mapping[str, Any] | None = None
    ) -> Iterator[Evaluation]:
        """Evaluate, and attribute the block's measurements to the variant's cohort only
        until the block ends (the previous cohort is restored)."""
        result = self.evaluate(key, targeting_key, attributes, cohort=False)
        with _cohort_block(result.cohort):
            yield result

    def get(self, key: str) -> Flag:
        """The definition of flag ``key``; :class:`UnknownFlag`/:class:`FlagStoreCorrupt`."""
        stored = self._stored.get(key)
        if stored is None:
            self._missing(key)
        return stored.flag

    def version(self, key: str) -> int:
        """How many changes flag ``key`` has had (its journal's length)."""
        stored = self._stored.get(key)
        if stored is None:
            self._missing(key)
        return stored.version

    def list(self) -> tuple[Flag, ...]:
        """Every usable flag, by key (quarantined ones: :meth:`quarantined`)."""
        return tuple(self._stored[k].flag for k in sorted(self._stored))

    def history(self, key: str) -> tuple[FlagChange, ...]:
        """The journal of flag ``key``, oldest first (entry 1 is its definition)."""
        stored = self._stored.get(key)
        if stored is None:
            self._missing(key)
        return stored.journal

    def quarantined(self) -> tuple[QuarantinedFlag, ...]:
        """Flags whose stored data was corrupt, by key; each raises
        :class:`FlagStoreCorrupt` until it is defined again."""
        return tuple(self._quarantined[k] for k in sorted(self._quarantined))

    def statistics(self) -> FlagsStatistics:
        """Counters and sizes of this service."""
        return FlagsStatistics(
            namespace=self._root,
            flags=len(self._stored),
            killed=sum(not s.flag.enabled for s in self._stored.values()),
            quarantined=len(self._quarantined),
            changes=self._changes,
            conflicts=self._conflicts,
            subscribers=len(self._subscribers),
            failed_subscribers=self._failed_subscribers,
            closed=self._closed,
        )

    def _missing(self, key: str) -> NoReturn:
        bad = self._quarantined.get(key)
        if bad is not None:
            raise FlagStoreCorrupt(
                f"flag {key!r} is quarantined: {bad.reason}; define it again to use it",
                context={"flag": key, "namespace": bad.namespace, "reason": bad.reason},
            )
        check_key(key)
        raise UnknownFlag(f"no flag {key!r} is defined", context={"flag": key})

    # -- notifications -----------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(change)`` after every change (also those :meth:`refresh` finds).

        Callbacks run inline and must not block; one that raises is detached and logged.
        Returns the function that unsubscribes (idempotent).
        """
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        handle = self._next_subscriber
        self._next_subscriber += 1
        self._subscribers[handle] = callback
        return lambda: self._subscribers.pop(handle, None) and None

    def _notify(self, change: FlagChange) -> None:
        for handle, callback in list(self._subscribers.items()):
            try:
                callback(change)
            except Exception:  # noqa: BLE001 -- a broken subscriber is detached, never allowed to fail a change that is already stored
                self._subscribers.pop(handle, None)
                self._failed_subscribers += 1
                _log.exception(
                    "flag subscriber %r failed on %s and was detached", callback, change.key
                )

    # -- changes -----------------------------------------------------------------

    async def define(self, flag: Flag, *, actor: str, reason: str) -> FlagChange:
        """Create flag ``flag.key`` (journal entry 1); :class:`FlagExists` if it exists.

        A quarantined key may be defined again: that starts a fresh journal.
        """
        if not isinstance(flag, Flag):
            raise TypeError(f"define takes a Flag, got {type(flag).__name__}")
        return await self._change(flag.key, ChangeAction.DEFINE, actor, reason, lambda _: flag)

    async def ensure(self, flag: Flag, *, actor: str, reason: str) -> Flag:
        """Define ``flag`` unless a flag with its key exists; return the one in effect.

        For flags a program declares in code: operators' later changes are kept.
        """
        if flag.key in self._stored:
            return self._stored[flag.key].flag
        with suppress(FlagExists):  # another writer defined it meanwhile: theirs is in effect
            await self.define(flag, actor=actor, reason=reason)
        return self.get(flag.key)

    async def set(
        self,
        key: str,
        *,
        actor: str,
        reason: str,
        expected_version: int | None = None,
        **changes: Any,
    ) -> FlagChange:
        """Change fields of flag ``key`` (``enabled``, ``percentage``, ``rules``,
        ``variants``, ``default``, ``canary``, ``split``, ``salt``, ``description``).

        Every change method takes ``expected_version``: apply the change only if the
        flag still has that many changes (:meth:`version`), else :class:`FlagConflict`
        and nothing is written — a compare-and-set for writers that must not act twice.
        """
        if not changes:
            raise ValueError("set() needs at least one field to change")
        return await self._change(
            key, ChangeAction.SET, actor, reason, lambda f: f.replace(**changes), expected_version
        )

    async def set_percentage(
        self,
        key: str,
        percentage: float,
        *,
        actor: str,
        reason: str,
        expected_version: int | None = None,
    ) -> FlagChange:
        """Serve the canary variant to ``percentage`` percent (0..100) of targeting keys.

        Raising it only adds keys to the canary; lowering it only removes keys; ``0``
        is the rollback (every key gets the default variant on the next evaluation).
        """
        percentage = check_percentage(percentage)
        return await self._change(
            key,
            ChangeAction.SET_PERCENTAGE,
            actor,
            reason,
            lambda f: f.replace(percentage=percentage),
            expected_version,
        )

    async def kill(
        self, key: str, *, actor: str, reason: str, expected_version: int | None = None
    ) -> FlagChange:
        """The kill switch: serve the default variant to everyone (``enabled=False``).

        Undo with ``set(key, enabled=True, ...)``.
        """
        return await self._change(
            key,
            ChangeAction.KILL,
            actor,
            reason,
            lambda f: f.replace(enabled=False),
            expected_version,
        )

    async def _change(
        self,
        key: str,
        action: ChangeAction,
        actor: str,
        reason: str,
        apply: Callable[[Flag], Flag],
        expected_version: int | None = None,
    ) -> FlagChange:
        if expected_version is not None and (
            isinstance(expected_version, bool) or not isinstance(expected_version, int)
        ):
            raise TypeError(f"expected_version must be an int, got {expected_version!r}")
        check_audit_text("actor", actor, 200)
        check_audit_text("reason", reason, 2000)
        if self._closed:
            raise FlagError("the flag service is closed")
        async with self._lock:
            if action is not ChangeAction.DEFINE and check_key(key) not in self._stored:
                await self._reload(key)  # defined by another process since the last refresh?
            for _ in range(_WRITE_ATTEMPTS):
                change = self._next_change(key, action, actor, reason, apply)
                version = change.seq - 1
                if expected_version is not None and version != expected_version:
                    raise FlagConflict(
                        f"flag {key!r} is at version {version}, not {expected_version}: "
                        "it changed meanwhile; nothing written",
                        context={"flag": key, "version": version, "expected": expected_version},
                    )
                try:
                    await write_change(self._store, self._root, version, change)
                except VersionConflict:
                    self._conflicts += 1
                    await self._reload(key)
                    continue
                self._apply(StoredFlag(change.after, change.seq, (*self._journal(key), change)))
                self._changes += 1
                self._notify(change)
                return change
        raise FlagConflict(f"flag {key!r} kept changing under another writer; nothing written")

    def _journal(self, key: str) -> tuple[FlagChange, ...]:
        stored = self._stored.get(key)
        return () if stored is None else stored.journal

    def _next_change(
        self, key: str, action: ChangeAction, actor: str, reason: str, apply: Callable[[Flag], Flag]
    ) -> FlagChange:
        stored = self._stored.get(key)
        if action is ChangeAction.DEFINE:
            if stored is not None:
                raise FlagExists(f"flag {key!r} is defined already; use set() to change it")
            before, version = None, 0
        else:
            before = self.get(key)
            version = self._stored[key].version
        after = apply(before) if before is not None else apply(None)  # type: ignore[arg-type]
        return FlagChange(key, version + 1, action, actor, reason, self._clock(), before, after)

    def _apply(self, stored: StoredFlag) -> None:
        key = stored.flag.key
        self._stored[key] = stored
        self._compiled[key] = CompiledFlag(stored.flag)
        self._quarantined.pop(key, None)

    async def _reload(self, key: str) -> None:
        loaded = await load_flag(self._store, self._root, key)
        self._absorb(key, loaded)

    def _absorb(self, key: str, loaded: StoredFlag | QuarantinedFlag | None) -> None:
        """Take what the store holds for ``key``; announce entries this service missed."""
        known = self._stored.get(key)
        if isinstance(loaded, QuarantinedFlag):
            self._stored.pop(key, None)
            self._compiled.pop(key, None)
            self._quarantined[key] = loaded
            return
        if loaded is None:
            return
        if known is not None and known.version == loaded.version:
            return
        self._apply(loaded)
        seen = 0 if known is None or known.version > loaded.version else known.version
        for change in loaded.journal[seen:]:
            self._notify(change)

    async def refresh(self) -> None:
        """Reload every flag from the store: picks up changes other processes made (the
        CLI, another node), announces them to subscribers, quarantines corrupt data."""
        async with self._lock:
            stored, bad = await scan(self._store, self._root)
            for key, loaded in stored.items():
                self._absorb(key, loaded)
            for key, entry in bad.items():
                self._absorb(key, entry)

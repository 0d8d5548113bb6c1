"""``PersistentAgent``: declared fields that survive crashes and restarts.

::

    class Counter(PersistentAgent):
        persistent_fields = ("count", "orders")
        count: int = 0
        orders: ItemMap[Order] = ItemMap()

    await rt.spawn(Counter, name="counter", store=store)

* **Restore** runs at every (re)start, before ``setup``: defaults, then the stored
  fields, then ``after_restore``. Stored state of an older ``state_version`` goes through
  ``migrate_state``; a newer version or undecodable data is moved to the store's
  quarantine, an error event is emitted and the agent starts from defaults.
* **Save** runs after every action (also one that raised an expected error) and on a
  clean stop; subclasses call :meth:`persist` after internal steps. Only changes are
  written: small fields as one record, ``ItemMap`` fields one row per changed item.
* **Durability** (:class:`~bastion.persistence.Durability`): with ``batched`` (default)
  and ``strict`` an action's reply waits until its changes are committed; with
  ``memory`` it does not wait. Writes stay in order either way.
* Every write is fenced by compare-and-set on the state record, so a stale incarnation
  that still writes crashes with :class:`~bastion.persistence.VersionConflict` instead of
  overwriting newer state.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

from bastion._core import _event_names, _events
from bastion._core._errors import ExpectedError
from bastion._core._messages import ExitReason
from bastion.agents._agent import Agent
from bastion.agents._snapshot import STATE_KEY, Restored, decode_state, encode_fields
from bastion.agents._state import ItemMap, StateField
from bastion.persistence import (
    Codec,
    CorruptState,
    DeleteItem,
    Durability,
    Op,
    Put,
    PutItem,
    StateStore,
    StoreTimeout,
    WriteResult,
    default_codec,
)

__all__ = ["PersistentAgent"]


class PersistentAgent(Agent):
    """An agent whose ``persistent_fields`` are saved to a :class:`StateStore`."""

    #: Names of declared state fields to persist; a name that is not declared is an error.
    persistent_fields: ClassVar[tuple[str, ...]] = ()
    #: Version of the persisted shape; bump it and handle the old one in ``migrate_state``.
    state_version: ClassVar[int] = 1
    #: Recorded with the state; a different type under the same key is quarantined.
    state_type: ClassVar[str] = ""
    #: The codec for field values; register hooks for custom classes on it.
    codec: ClassVar[Codec] = default_codec()
    #: Seconds an awaited write may take before :class:`StoreTimeout` crashes the agent.
    write_timeout: ClassVar[float] = 30.0

    _bastion_framework: ClassVar[bool] = True
    _scalar_fields: ClassVar[dict[str, StateField]] = {}
    _item_fields: ClassVar[dict[str, StateField]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        unknown = [n for n in cls.persistent_fields if n not in cls._state_fields]
        if unknown:
            raise TypeError(f"{cls.__qualname__}.persistent_fields names undeclared state "
                            f"{unknown}; declare them as annotated attributes with defaults")
        chosen = [cls._state_fields[n] for n in cls.persistent_fields]
        cls._scalar_fields = {f.name: f for f in chosen if not f.is_item_map}
        cls._item_fields = {f.name: f for f in chosen if f.is_item_map}
        if not cls.__dict__.get("state_type"):
            cls.state_type = cls.__qualname__

    def __init__(self, *, store: StateStore, durability: Durability | str = Durability.BATCHED,
                 persistence_key: str | None = None, **kwargs: Any) -> None:
        """``store`` outlives the agent; ``persistence_key`` defaults to the agent's name."""
        super().__init__(**kwargs)
        self.store = store
        self.durability = Durability(durability)
        self._key = persistence_key
        self._version = 0
        self._last_record = b""
        self._staged: list[Op] = []
        self._last_write: asyncio.Future[WriteResult] | None = None
        self.restore_error: CorruptState | None = None
        self.restored = False

    # -- hooks -------------------------------------------------------------------------
    def migrate_state(self, from_version: int, fields: dict[str, Any]) -> dict[str, Any]:
        """Turn fields stored by ``from_version`` into the current shape (JSON builtins)."""
        raise CorruptState(f"{type(self).__qualname__} has no migration from state "
                           f"version {from_version} to {self.state_version}")

    async def after_restore(self) -> None:
        """Runs after state was restored (or defaulted); rebuild derived structures here."""

    def before_save(self) -> None:
        """Runs before changes are collected for a save; sync derived data into fields."""

    # -- public API ----------------------------------------------------------------------
    @property
    def namespace(self) -> str:
        """The store namespace of this agent's state."""
        key = self._key or self.name
        if key is None:
            raise TypeError(f"{type(self).__qualname__} needs a name or a persistence_key")
        return f"agent/{key}"

    def stage_item(self, collection: str, item: str, value: Any, type_: Any = Any) -> None:
        """Write one item of a write-only collection (e.g. results) with the next save."""
        if collection in self._item_fields:
            raise ValueError(f"{collection!r} is an ItemMap field; assign to it instead")
        self._staged.append(
            PutItem(self.namespace, collection, item, self.codec.encode(value, type_)))

    def unstage_item(self, collection: str, item: str) -> None:
        """Delete one item of a write-only collection with the next save."""
        self._staged.append(DeleteItem(self.namespace, collection, item))

    async def read_item(self, collection: str, item: str, type_: Any = Any) -> Any:
        """Read one item of a collection of this agent from the store (None if absent)."""
        data = await self.store.read_item(self.namespace, collection, item)
        return None if data is None else self.codec.decode(data, type_)

    async def persist(self, *, wait: bool | None = None) -> None:
        """Save the changes since the last save.

        ``wait`` defaults to the durability mode (``memory``: no wait). Raises the error of
        an earlier unawaited write, if one failed (the agent then crashes and restores).
        """
        self._raise_failed_write()
        ops = self._collect_ops()
        if wait is None:
            wait = self.durability is not Durability.MEMORY
        last = self._last_write
        if not ops and wait and last is not None and not last.done():
            ops = []  # an empty batch commits promptly, and with it the deferred ones before
        elif not ops:
            if wait and last is not None:
                await self._wait(last)
            return
        fut = await self.store.submit(ops, sync=self.durability is Durability.STRICT,
                                      defer=not wait)
        fut.add_done_callback(_retrieve)
        self._last_write = fut
        if wait:
            await self._wait(fut)

    # -- framework -------------------------------------------------------------------------
    async def _prepare_state(self) -> None:
        if getattr(self, "store", None) is None:
            raise TypeError(f"{type(self).__qualname__} needs store=<StateStore>")
        ns = self.namespace
        start = time.perf_counter_ns()
        data = await self.store.load(ns)
        try:
            restored = self._decode(data)
        except CorruptState as exc:
            await self._quarantine(exc)
        else:
            self._apply_restored(restored)
            _events.emit(_event_names.AGENT_STATE_RESTORED,
                         {"duration_ns": time.perf_counter_ns() - start,
                          "items": restored.item_count},
                         {**self._meta(), "namespace": ns, "version": restored.version,
                          "migrated_from": restored.migrated_from})
        self._last_record = self._encode_record()
        await self.after_restore()

    def _decode(self, data: Any) -> Restored:
        return decode_state(
            data, self.codec, version=self.state_version, state_type=self.state_type,
            scalars=self._scalar_fields, collections=self._item_fields,
            migrate=self.migrate_state)

    def _apply_restored(self, restored: Restored) -> None:
        for name, value in restored.fields.items():
            setattr(self, name, value)
        for name, items in restored.items.items():
            getattr(self, name).load(items)
        self._version = restored.version
        self.restored = restored.version > 0 or restored.item_count > 0

    async def _quarantine(self, exc: CorruptState) -> None:
        entry = await self.store.quarantine(self.namespace, f"{type(exc).__name__}: {exc}")
        self.restore_error = exc
        self._version = 0
        for f in self._state_fields.values():
            setattr(self, f.name, f.fresh_default())
        _events.emit(_event_names.AGENT_STATE_QUARANTINED,
                     {"records": entry.records, "items": entry.items},
                     {**self._meta(), "namespace": self.namespace, "error": exc})

    async def _after_dispatch(self, name: str, error: BaseException | None) -> None:
        if error is None or isinstance(error, ExpectedError):
            await self.persist()

    async def _finish_stop(self, reason: ExitReason) -> None:
        if reason in ("normal", "shutdown") and getattr(self, "store", None) is not None:
            await self.persist(wait=True)

    def _encode_record(self) -> bytes:
        values = {n: (f, getattr(self, n)) for n, f in self._scalar_fields.items()}
        return encode_fields(self.codec, self.state_version, self.state_type, values)

    def _collect_ops(self) -> list[Op]:
        self.before_save()
        ns = self.namespace
        ops: list[Op] = []
        for name, f in self._item_fields.items():
            items: ItemMap[Any] = getattr(self, name)
            if not items.changed:
                continue
            dirty, deleted = items.drain_changes()
            ops.extend(PutItem(ns, name, k, self.codec.encode(v, f.item_type)) for k, v in dirty)
            ops.extend(DeleteItem(ns, name, k) for k in deleted)
        ops.extend(self._staged)
        self._staged = []
        record = self._encode_record()
        if not ops and record == self._last_record:
            return ops
        ops.insert(0, Put(ns, STATE_KEY, record, expected_version=self._version))
        self._version += 1
        self._last_record = record
        return ops

    def _raise_failed_write(self) -> None:
        last = self._last_write
        if last is not None and last.done() and not last.cancelled():
            error = last.exception()
            if error is not None:
                raise error

    async def _wait(self, fut: asyncio.Future[WriteResult]) -> None:
        try:
            async with asyncio.timeout(self.write_timeout):
                await asyncio.shield(fut)
        except TimeoutError:
            raise StoreTimeout(f"{self.namespace}: write not committed within "
                               f"{self.write_timeout}s") from None


def _retrieve(fut: asyncio.Future[Any]) -> None:
    """Mark a write's exception as seen; :meth:`PersistentAgent.persist` re-raises it."""
    if not fut.cancelled():
        fut.exception()


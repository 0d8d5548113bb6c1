"""``PersistentAgent``: declared fields that survive crashes and restarts.

::

    class Counter(PersistentAgent):
        persistent_fields = ("count", "orders")
        count: int = 0
        orders: ItemMap[Order] = ItemMap()

    await rt.spawn(Counter, name="counter", store=store)

* **Restore** runs at every (re)start, before ``setup``: defaults, then the stored
  fields, then ``after_restore``. Stored state of an older ``state_version`` goes through
  ``migrate_state``; a newer version, another agent type or an undecodable record is
  moved to the store's quarantine, an error event is emitted and the agent starts from
  defaults. One field or item that does not decode is set aside alone (its bytes kept
  under the record ``quarantined/<field>`` of the namespace, the error event emitted):
  the other fields are restored.
* **Save** runs after every action (also one that raised an expected error) and on a
  clean stop; subclasses call :meth:`persist` after internal steps. Only changes are
  written: small fields as one record, ``ItemMap`` fields one row per changed item.
  Each save first checks that what it writes decodes again with the declared field types
  (NaN and ±inf never do): if not, the action fails with
  :class:`~bastion.persistence.InvalidState` (the caller gets it, the agent keeps
  running) and the persistent fields are rolled back to the last save.
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
from bastion._core._actor import sets_no_reserved_member
from bastion._core._errors import ExpectedError
from bastion._core._messages import ExitReason
from bastion.agents._acks import PendingReply, reply_after_commit, submit_for_reply
from bastion.agents._agent import Agent
from bastion.agents._frozen import builder
from bastion.agents._snapshot import (
    STATE_KEY,
    Restored,
    check_record,
    decode_state,
    encode_fields,
    quarantined_record,
    record_type,
)
from bastion.agents._state import ItemMap, StateField
from bastion.persistence import (
    Codec,
    CorruptState,
    DeleteItem,
    Durability,
    InvalidState,
    NamespaceData,
    Op,
    Put,
    PutItem,
    Record,
    StateStore,
    StoreTimeout,
    UnstorableValue,
    UnsupportedType,
    WriteResult,
    default_codec,
)

_new_put_item = builder(PutItem)  # one per staged item (a TaskAgent: one per task)
_new_delete_item = builder(DeleteItem)  # one per deleted item (a TaskAgent: one per task)
#: Prefix of the records that keep a field or item that did not decode at restore.
QUARANTINED_PREFIX = "quarantined/"

__all__ = ["PersistentAgent"]


class PersistentAgent(Agent):
    """An agent whose ``persistent_fields`` are saved to a :class:`StateStore`."""

    __slots__ = (  # framework-private (see Agent)
        "_calling",
        "_drained",
        "_key",
        "_last_record",
        "_last_write",
        "_namespace",
        "_reply_after",
        "_staged",
        "_version",
    )

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
    _record_type: ClassVar[Any] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        unknown = [n for n in cls.persistent_fields if n not in cls._state_fields]
        if unknown:
            raise TypeError(
                f"{cls.__qualname__}.persistent_fields names undeclared state "
                f"{unknown}; declare them as annotated attributes with defaults"
            )
        chosen = [cls._state_fields[n] for n in cls.persistent_fields]
        cls._scalar_fields = {f.name: f for f in chosen if not f.is_item_map}
        cls._item_fields = {f.name: f for f in chosen if f.is_item_map}
        cls._record_type = record_type(cls._scalar_fields)
        if not cls.__dict__.get("state_type"):
            cls.state_type = cls.__qualname__

    @sets_no_reserved_member
    def __init__(
        self,
        *,
        store: StateStore,
        durability: Durability | str = Durability.BATCHED,
        persistence_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        """``store`` outlives the agent; ``persistence_key`` defaults to the agent's name."""
        super().__init__(**kwargs)
        self.store = store
        self.durability = Durability(durability)
        self._key = persistence_key
        self._namespace: str | None = None
        self._version = 0
        self._last_record = b""
        self._staged: list[Op] = []
        self._drained: dict[str, list[str]] = {}
        self._last_write: asyncio.Future[WriteResult] | None = None
        self._reply_after: PendingReply | None = None  # see handle_call
        self._calling = False
        self.restore_error: CorruptState | None = None
        self.restored = False

    # -- hooks -------------------------------------------------------------------------
    def migrate_state(self, from_version: int, fields: dict[str, Any]) -> dict[str, Any]:
        """Turn fields stored by ``from_version`` into the current shape (JSON builtins)."""
        raise CorruptState(
            f"{type(self).__qualname__} has no migration from state "
            f"version {from_version} to {self.state_version}"
        )

    async def after_restore(self) -> None:
        """Runs after state was restored (or defaulted); rebuild derived structures here."""

    def before_save(self) -> None:
        """Runs before changes are collected for a save; sync derived data into fields."""

    # -- public API ----------------------------------------------------------------------
    @property
    def namespace(self) -> str:
        """The store namespace of this agent's state."""
        namespace = self._namespace
        if namespace is None:  # (an incarnation's name never changes: computed once)
            key = self._key or self.name
            if key is None:
                raise TypeError(f"{type(self).__qualname__} needs a name or a persistence_key")
            namespace = self._namespace = f"agent/{key}"
        return namespace

    def stage_item(self, collection: str, item: str, value: Any, type_: Any = Any) -> None:
        """Write one item of a write-only collection (e.g. results) with the next save."""
        if collection in self._item_fields:
            raise ValueError(f"{collection!r} is an ItemMap field; assign to it instead")
        self._staged.append(
            _new_put_item(
                self.namespace, collection, item, self.codec.encode(value, type_), None
            )  # order None: the constructor's default
        )

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
        try:
            ops = self._collect_ops()
        except InvalidState:
            await self._roll_back()
            raise
        wait = self.durability is not Durability.MEMORY if wait is None else wait
        last = self._last_write
        if not ops and wait and last is not None and not last.done():
            ops = []  # an empty batch commits promptly, and with it the deferred ones before
        elif not ops:
            if wait and last is not None:
                await self._wait(last)
            return
        sync = self.durability is Durability.STRICT
        submit_then = None if wait else getattr(self.store, "submit_then", None)  # optional
        if submit_then is not None:  # its failure is seen in the pass resolving its group
            fut: asyncio.Future[WriteResult] = await submit_then(ops, _seen, sync=sync, defer=True)
        else:
            fut = await self.store.submit(ops, sync=sync, defer=not wait)
            _retrieve(fut)
        self._last_write = fut
        if wait:
            await self._wait(fut)

    # -- framework -------------------------------------------------------------------------
    async def _prepare_state(self) -> None:
        if getattr(self, "store", None) is None:
            raise TypeError(f"{type(self).__qualname__} needs store=<StateStore>")
        ns = self.namespace
        start = time.perf_counter_ns()
        data = await self._load_state()
        try:
            restored = self._decode(data)
        except CorruptState as exc:
            await self._quarantine(exc)
        else:
            self._apply_restored(restored)
            if restored.rejected:
                await self._set_aside(restored)
            _events.emit(
                _event_names.AGENT_STATE_RESTORED,
                {"duration_ns": time.perf_counter_ns() - start, "items": restored.item_count},
                {
                    **self._meta(),
                    "namespace": ns,
                    "version": restored.version,
                    "migrated_from": restored.migrated_from,
                },
            )
        self._last_record = self._encode_record()
        await self.after_restore()

    async def _load_state(self) -> NamespaceData:
        """What a restore decodes: the whole namespace (a TaskAgent reads a large queue
        in pages, see ``_queue_stream``)."""
        return await self.store.load(self.namespace)

    def _decode(self, data: Any) -> Restored:
        return decode_state(
            data,
            self.codec,
            version=self.state_version,
            state_type=self.state_type,
            scalars=self._scalar_fields,
            collections=self._item_fields,
            migrate=self.migrate_state,
        )

    def _apply_restored(self, restored: Restored) -> None:
        for name, value in restored.fields.items():
            setattr(self, name, value)
        for name, items in restored.items.items():
            getattr(self, name).load(items)
        self._version = restored.version
        self.restored = restored.version > 0 or restored.item_count > 0

    async def _set_aside(self, restored: Restored) -> None:
        """Keep the fields/items that did not decode aside; write the rest back at once."""
        ns = self.namespace
        record = self._encode_record()
        ops: list[Op] = [Put(ns, STATE_KEY, record, expected_version=self._version)]
        for r in restored.rejected:
            ops.append(Put(ns, QUARANTINED_PREFIX + r.key, quarantined_record(r)))
            if r.item is not None:
                ops.append(DeleteItem(ns, r.field, r.item))
        await self._wait(await self.store.submit(ops))
        self._version += 1
        self.restore_error = restored.rejected[0].error
        for r in restored.rejected:
            _events.emit(
                _event_names.AGENT_STATE_QUARANTINED,
                {"records": 1, "items": 0},
                {
                    **self._meta(),
                    "namespace": ns,
                    "field": r.field,
                    "item": r.item,
                    "error": r.error,
                },
            )

    async def _quarantine(self, exc: CorruptState) -> None:
        entry = await self.store.quarantine(self.namespace, f"{type(exc).__name__}: {exc}")
        self.restore_error = exc
        self._version = 0
        for f in self._state_fields.values():
            setattr(self, f.name, f.fresh_default())
        _events.emit(
            _event_names.AGENT_STATE_QUARANTINED,
            {"records": entry.records, "items": entry.items},
            {**self._meta(), "namespace": self.namespace, "error": exc},
        )

    async def handle_call(self, message: Any) -> Any:
        """Run an action; its reply waits for the commit of its changes, the agent goes on
        with its next messages meanwhile (``_acks``)."""
        self._calling = True
        try:
            result = await super().handle_call(message)
        finally:
            self._calling = False
        return reply_after_commit(self, result)

    async def _after_dispatch(self, name: str, error: BaseException | None) -> None:
        if error is None and self._calling and self.durability is not Durability.MEMORY:
            await submit_for_reply(self)
        elif error is None or isinstance(error, ExpectedError):
            await self.persist()

    async def _finish_stop(self, reason: ExitReason) -> None:
        if reason in ("normal", "shutdown") and getattr(self, "store", None) is not None:
            await self.persist(wait=True)

    def _encode_record(self) -> bytes:
        values = {n: (f, getattr(self, n)) for n, f in self._scalar_fields.items()}
        return encode_fields(self.codec, self.state_version, self.state_type, values)

    def _collect_ops(self) -> list[Op]:
        """The ops of the changes since the last save; InvalidState if one would not restore.

        On InvalidState ``self._drained`` names the ItemMap keys to roll back.
        """
        self.before_save()
        ns = self.namespace
        ops: list[Op] = []
        problems: list[str] = []
        self._drained = {}
        for name, f in self._item_fields.items():
            items: ItemMap[Any] = getattr(self, name)
            if not items.changed:
                continue
            dirty, deleted = items.drain_changes()
            self._drained[name] = [k for k, _ in dirty] + deleted
            order_of = getattr(items, "order_of", None)  # stored order (a TaskQueue's)
            for key, value in dirty:
                data = self._checked(value, f.item_type, f"{name}[{key!r}]", problems)
                order = None if order_of is None else order_of(value)
                ops.append(_new_put_item(ns, name, key, data, order))
            ops.extend([_new_delete_item(ns, name, k) for k in deleted])
        ops.extend(self._staged)
        record = self._checked_record(problems)
        if problems:
            raise InvalidState(
                f"{type(self).__qualname__}: state that could not be restored was refused "
                f"and rolled back to the last save: {'; '.join(problems)}",
                context={"namespace": ns, "problems": problems},
            )
        self._staged = []
        if not ops and record == self._last_record:
            return ops
        ops.insert(0, Put(ns, STATE_KEY, record, expected_version=self._version))
        self._version += 1
        self._last_record = record
        return ops

    def _checked(self, value: Any, type_: Any, where: str, problems: list[str]) -> bytes:
        """``value`` encoded, after checking it decodes again; a problem is appended."""
        try:
            data = self.codec.encode(value, type_)
            self.codec.decode(data, type_)
        except (UnsupportedType, UnstorableValue, CorruptState) as exc:
            problems.append(f"{where}: {exc}")
            return b""
        return data

    def _checked_record(self, problems: list[str]) -> bytes:
        try:
            record = self._encode_record()
        except (UnsupportedType, UnstorableValue):
            for name, f in self._scalar_fields.items():  # name the fields at fault
                self._checked(getattr(self, name), f.type, name, problems)
            return b""
        if record != self._last_record:
            for r in check_record(self.codec, record, self._scalar_fields, self._record_type):
                problems.append(f"{r.field}: {r.error}")
        return record

    async def _roll_back(self) -> None:
        """Put the persistent fields back to the last save (the store still holds it)."""
        self._staged = []
        ns = self.namespace
        last = NamespaceData(ns, {STATE_KEY: Record(self._last_record, self._version)}, {})
        restored = self._decode(last) if self._last_record else None
        for name, f in self._scalar_fields.items():
            fields = restored.fields if restored is not None else {}
            setattr(self, name, fields[name] if name in fields else f.fresh_default())
        for name, keys in self._drained.items():
            items: ItemMap[Any] = getattr(self, name)
            item_type = self._item_fields[name].item_type
            for key in keys:
                data = await self.store.read_item(ns, name, key)
                if data is not None:
                    items[key] = self.codec.decode(data, item_type)
                elif key in items:
                    del items[key]
            items.drain_changes()
        self._drained = {}

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
            raise StoreTimeout(
                f"{self.namespace}: write not committed within {self.write_timeout}s"
            ) from None


def _seen(error: BaseException | None) -> None:
    """A deferred write settled: a failure is re-raised by the next ``persist``
    (``_raise_failed_write``), nothing to do now (the store marked it retrieved)."""


def _retrieve(fut: asyncio.Future[Any]) -> None:
    """Mark a write's exception as seen (``persist`` re-raises it); at once if done."""
    if not fut.done():
        fut.add_done_callback(_retrieve)  # (on a done future: a turn of the loop)
    elif not fut.cancelled():
        fut.exception()

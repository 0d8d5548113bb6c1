"""The Ray side: one Ray actor per placed actor, hosting a Bastion runtime.

:class:`RayHost` is a Ray *async* actor. ``start`` opens a Bastion runtime on the
worker's event loop, opens the state store from its recipe and spawns the placed actor
(the root of its subtree there: actors it starts run in the same process and talk to it
at kernel speed). ``call``/``cast`` forward one message each to the placed actor with
the caller's deadline; ``watch`` reports when the placed actor exits; ``stop`` stops it
and closes the store. Every method takes and returns bytes (see :mod:`._wire`).

Nothing here restarts the placed actor: a crash is reported to the local stand-in,
whose supervisor decides (and then places a fresh host).
"""

from __future__ import annotations

import os
from typing import Any

import msgspec

import ray
from bastion._core._errors import (
    ActorCrashed,
    ActorError,
    BastionError,
    CallTimeout,
    ExpectedError,
    MailboxFull,
    StartFailed,
    Timeout,
)
from bastion._core._messages import is_abnormal
from bastion._core._options import RuntimeOptions
from bastion._core._ref import ActorRef
from bastion._core._runtime import Runtime
from bastion.persistence import StateStore
from bastion.ray._errors import WireError
from bastion.ray._wire import (
    OK,
    Started,
    StartSpec,
    build_codec,
    decode_value,
    encode_failure,
    encode_value,
    import_name,
)

__all__ = ["RayHost", "RemoteHost"]

_ALIVE = b"a"


class RayHost:
    """The Ray actor that hosts one placed actor (see the module docstring)."""

    def __init__(self) -> None:
        self._runtime: Runtime | None = None
        self._ref: ActorRef | None = None
        self._store: StateStore | None = None
        self._codec = build_codec(())

    async def start(self, data: bytes) -> bytes:
        """Open the runtime and the store, spawn the placed actor; reply :class:`Started`."""
        spec = msgspec.json.decode(data, type=StartSpec)
        try:
            actor_class = import_name(spec.actor)
            self._codec = build_codec(import_name(n) for n in spec.messages)
            args, kwargs = decode_value(self._codec, spec.payload)
            if spec.store_opener is not None:
                opener = import_name(spec.store_opener)
                self._store = await opener(**decode_value(self._codec, spec.store_kwargs))
                kwargs[spec.store_argument] = self._store
            self._runtime = Runtime._create(RuntimeOptions(call_timeout=spec.call_timeout))
            self._ref = await self._runtime.spawn(
                actor_class, *args, name=spec.name, start_timeout=spec.start_timeout, **kwargs
            )
        except (ImportError, AttributeError, TypeError, ValueError, OSError, BastionError) as exc:
            await self._close()
            return encode_failure("start", exc)
        context = ray.get_runtime_context()
        started = Started(
            node_id=context.get_node_id(), pid=os.getpid(), actor_id=context.get_actor_id() or ""
        )
        return OK + msgspec.json.encode(started)

    async def call(self, payload: bytes, timeout: float) -> bytes:
        """Forward one call; reply its value or a failure record."""
        ref = self._placed()
        try:
            message = decode_value(self._codec, payload)
            value = await ref.call(message, timeout=timeout)
            return OK + encode_value(self._codec, value)
        except ExpectedError as exc:
            return encode_failure("expected", exc)
        except ActorCrashed as exc:
            return encode_failure("crash", exc.__cause__ or exc)
        except CallTimeout as exc:
            return encode_failure("timeout", exc)
        except ActorError as exc:  # not alive (stopped), or the wire refused the value
            return encode_failure(_kind_of(exc), exc)

    async def cast(self, payload: bytes, timeout: float) -> bytes:
        """Forward one cast; reply once the placed actor's mailbox took it."""
        ref = self._placed()
        try:
            await ref.cast(decode_value(self._codec, payload), timeout=timeout)
        except MailboxFull as exc:
            return encode_failure("mailbox_full", exc)
        except ActorError as exc:
            return encode_failure(_kind_of(exc), exc)
        return OK

    async def watch(self, period: float) -> bytes:
        """Reply when the placed actor exits (its reason), or ``a`` after ``period`` s."""
        try:
            reason = await self._placed().wait_stopped(timeout=period)
        except Timeout:  # (a CallTimeout in kernels before wait_stopped raised Timeout)
            return _ALIVE
        kind = "crash" if is_abnormal(reason) else "exit"
        return encode_failure(kind, reason if isinstance(reason, BaseException) else str(reason))

    async def stop(self, timeout: float) -> bytes:
        """Stop the placed actor (``on_stop`` runs), the runtime and the store."""
        if self._ref is not None:
            await self._ref.stop(timeout=timeout)
        await self._close()
        return OK

    def _placed(self) -> ActorRef:
        if self._ref is None:
            raise StartFailed("this Ray host has not started its actor")
        return self._ref

    async def _close(self) -> None:
        runtime, self._runtime = self._runtime, None
        store, self._store = self._store, None
        if runtime is not None:
            await runtime.shutdown()
        if store is not None:
            await store.close()


def _kind_of(exc: BaseException) -> str:
    return "wire" if isinstance(exc, WireError) else "not_alive"


#: The Ray actor class of :class:`RayHost` (``.options(...).remote()`` starts one).
RemoteHost: Any = ray.remote(RayHost)

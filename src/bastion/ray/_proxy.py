"""The local stand-in of a placed actor: an ordinary actor that forwards to its Ray host.

Calls do not hold the stand-in's mailbox: ``handle_call`` sends the call to Ray, takes
a :class:`~bastion.ReplyHandle` and returns ``NoReply``; the reply is given from a
callback that Ray's thread hands to this loop (``call_soon_threadsafe``), so calls
pipeline and the stand-in runs no task of its own. Ray keeps the order of calls from one
handle, and the placed actor's mailbox serializes them as a local one does.

Failure routing is the kernel's, across the network:

* the placed handler's expected error comes back as that error (the caller gets it, both
  actors keep running);
* the placed actor's crash, or Ray's report that its process or node died, crashes the
  stand-in (reason :class:`RemoteCrash` / :class:`NodeLost`): callers get
  ``ActorCrashed`` and the stand-in's supervisor restarts it, which places a fresh host
  (on a node that is alive) and restores the agent's state from its store;
* a deadline passed on the node is ``CallTimeout`` for the caller, as locally.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import msgspec
from ray.exceptions import RayActorError, RayError

import ray
from bastion._core._actor import Actor
from bastion._core._errors import ActorNotAlive, CallTimeout, MailboxFull
from bastion._core._messages import ExitReason, is_abnormal
from bastion._core._real_work import RealWork, real_work_of
from bastion._core._ref import DEFAULT, ActorRef, UseDefault
from bastion._core._replies import NoReply, ReplyHandle
from bastion.ray._errors import NodeLost, PlacementError, RemoteCrash, WireError
from bastion.ray._host import RemoteHost
from bastion.ray._wire import (
    OK,
    Failure,
    Started,
    StartSpec,
    decode_failure,
    decode_value,
    encode_value,
    expected_error,
)

if TYPE_CHECKING:
    from bastion.ray._placement import RayPlacement

__all__ = ["Location", "RayProxy", "where"]

_log = logging.getLogger("bastion.ray")
#: Extra seconds the stand-in waits for Ray beyond the node-side deadline.
GRACE: Final = 1.0
_ALIVE: Final = b"a"


@dataclass(frozen=True, slots=True)
class Location:
    """Where a placed actor's current incarnation runs."""

    node_id: str  #: the Ray node id
    pid: int  #: the worker process
    actor_id: str  #: the Ray actor id of its host


class _Where:
    """The message :func:`where` sends; the stand-in answers it without Ray."""

    __slots__ = ()


_WHERE: Final = _Where()


async def where(ref: ActorRef, *, timeout: float | UseDefault = DEFAULT) -> Location:
    """Where the placed actor behind ``ref`` runs now (``ref`` from a placed spawn)."""
    location = await ref.call(_WHERE, timeout=timeout)
    if not isinstance(location, Location):
        raise TypeError(f"{ref!r} is not a placed actor (it answered {location!r})")
    return location


class _Pending:
    """One call waiting for Ray: its reply handle and deadline timer."""

    __slots__ = ("done", "handle", "timer")

    def __init__(self, handle: ReplyHandle) -> None:
        self.handle = handle
        self.timer: asyncio.TimerHandle | None = None
        self.done = False


class RayProxy(Actor):
    """The local stand-in of an actor placed on Ray (see the module docstring)."""

    def __init__(self, placement: RayPlacement, actor: str, payload: bytes) -> None:
        self._placement = placement
        self._actor = actor
        self._payload = payload
        self._codec = placement.codec
        self._host: Any = None
        self._location: Location | None = None
        self._pending: set[_Pending] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._work: RealWork | None = None
        self._watching = False
        self._timeout = placement.call_timeout or 0.0

    # -- lifecycle ---------------------------------------------------------------------
    async def on_start(self) -> None:
        if not ray.is_initialized():
            raise PlacementError("Ray is not initialized: call ray.init(...) before placing")
        self._loop = asyncio.get_running_loop()
        self._work = real_work_of(self._loop)
        placement = self._placement
        self._timeout = placement.call_timeout or self.runtime.call_timeout
        store = placement.store
        spec = StartSpec(
            actor=self._actor,
            messages=[f"{c.__module__}:{c.__qualname__}" for c in placement.messages],
            payload=self._payload,
            name=self.name,
            store_opener=None
            if store is None
            else f"{store.opener.__module__}:{store.opener.__qualname__}",
            store_kwargs=encode_value(self._codec, dict(store.kwargs) if store else {}),
            store_argument="store" if store is None else store.argument,
            call_timeout=self._timeout,
            start_timeout=placement.start_timeout,
        )
        self._host = RemoteHost.options(**placement.ray_options()).remote()
        try:
            reply = await self._wait(
                self._host.start.remote(msgspec.json.encode(spec)),
                placement.start_timeout + GRACE,
                "the start",
            )
            if reply[:1] != OK:
                raise self._failure_error(decode_failure(reply[1:]))
            started = msgspec.json.decode(reply[1:], type=Started)
        except BaseException:
            ray.kill(self._host, no_restart=True)
            self._host = None
            raise
        self._location = Location(started.node_id, started.pid, started.actor_id)
        self._arm_watch()

    async def on_stop(self, reason: ExitReason) -> None:
        host, self._host = self._host, None
        self._unwatch()
        for pending in list(self._pending):
            self._finish(pending)  # the kernel answers their callers
        if host is None:
            return
        try:
            if not is_abnormal(reason):  # a clean stop: the placed actor's on_stop runs
                budget = self._timeout
                await self._wait(host.stop.remote(budget), budget + GRACE, "the stop")
        except (PlacementError, CallTimeout) as exc:  # the host is dead or stuck: killed below
            _log.warning("%s: the placed actor did not stop cleanly: %s", self._actor, exc)
        finally:
            ray.kill(host, no_restart=True)

    # -- messages ----------------------------------------------------------------------
    def handle_call(self, message: Any) -> Any:
        if message is _WHERE:
            return self._location
        handle = self.reply_handle()
        try:
            payload = encode_value(self._codec, message)
        except WireError as exc:
            handle.fail(exc)  # bad input: the caller's error; nothing was sent
            return NoReply
        pending = _Pending(handle)
        self._track(pending)
        future = self._host.call.remote(payload, self._timeout).future()
        future.add_done_callback(functools.partial(self._hop, self._settle, pending))
        return NoReply

    async def handle_cast(self, message: Any) -> None:
        payload = encode_value(self._codec, message)
        reply = await self._wait(
            self._host.cast.remote(payload, self._timeout), self._timeout + GRACE, "a cast"
        )
        if reply != OK:
            raise self._failure_error(decode_failure(reply[1:]))

    # -- waiting for Ray -----------------------------------------------------------------
    async def _wait(self, ref: ray.ObjectRef[bytes], timeout: float, what: str) -> bytes:
        """``ref``'s bytes within ``timeout``; Ray's failures as Bastion errors."""
        future = asyncio.wrap_future(ref.future(), loop=self._loop)
        if self._work is not None:
            self._work.real_work_started()
        try:
            done, _ = await asyncio.wait((future,), timeout=timeout)
        finally:
            if self._work is not None:
                self._work.real_work_finished()
        if not done:
            future.cancel()
            raise CallTimeout(f"Ray did not answer {what} of {self._actor} within {timeout}s")
        try:
            return future.result()
        except RayActorError as exc:
            raise NodeLost(f"the Ray actor hosting {self._actor} died: {exc}") from exc
        except RayError as exc:
            raise PlacementError(f"Ray failed {what} of {self._actor}: {exc}") from exc

    def _track(self, pending: _Pending) -> None:
        assert self._loop is not None
        self._pending.add(pending)
        if self._work is not None:
            self._work.real_work_started()
        pending.timer = self._loop.call_later(self._timeout + GRACE, self._expire, pending)

    def _finish(self, pending: _Pending) -> bool:
        """Close ``pending`` once; False if it was closed already."""
        if pending.done:
            return False
        pending.done = True
        if pending.timer is not None:
            pending.timer.cancel()
        self._pending.discard(pending)
        if self._work is not None:
            self._work.real_work_finished()
        return True

    def _hop(self, settle: Any, pending: Any, future: concurrent.futures.Future[bytes]) -> None:
        """On Ray's thread: hand the settled future to this loop."""
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(settle, pending, future)
        except RuntimeError:  # the loop is closed: nobody waits for this answer
            return

    def _expire(self, pending: _Pending) -> None:
        if self._finish(pending):
            pending.handle.fail(CallTimeout(f"Ray did not answer a call to {self._actor}"))

    def _settle(self, pending: _Pending, future: concurrent.futures.Future[bytes]) -> None:
        if not self._finish(pending):
            return  # expired, or this incarnation stopped
        try:
            reply = future.result(timeout=0)  # done already: Ray called us back
            if reply[:1] == OK:
                pending.handle.reply(decode_value(self._codec, reply[1:]))
                return
            failure = decode_failure(reply[1:])
        except WireError as exc:
            pending.handle.fail(exc)
            return
        except RayError as exc:
            self._crash(exc)
            return
        if failure.kind == "crash":
            self.ref.kill(self._failure_error(failure))  # the kernel answers: ActorCrashed
        else:
            pending.handle.fail(self._failure_error(failure))

    # -- watching the host ---------------------------------------------------------------
    def _arm_watch(self) -> None:
        """Keep one ``watch`` open on the host: an answer owed from outside (real work)."""
        self._watching = True
        if self._work is not None:
            self._work.real_work_started()
        future = self._host.watch.remote(self._placement.watch_period).future()
        future.add_done_callback(functools.partial(self._hop, self._watched, self._host))

    def _unwatch(self) -> None:
        if self._watching:
            self._watching = False
            if self._work is not None:
                self._work.real_work_finished()

    def _watched(self, host: Any, future: concurrent.futures.Future[bytes]) -> None:
        if host is not self._host:
            return  # this incarnation stopped (and closed its watch)
        self._unwatch()
        try:
            reply = future.result(timeout=0)  # done already: Ray called us back
        except RayError as exc:
            self._crash(exc)
            return
        if reply == _ALIVE:
            self._arm_watch()
            return
        try:
            failure = decode_failure(reply[1:])
        except WireError as exc:
            self.ref.kill(exc)
            return
        if failure.kind == "exit":
            self.stop(failure.message)  # the placed actor stopped by itself: so does this
        else:
            self.ref.kill(self._failure_error(failure))

    def _crash(self, exc: RayError) -> None:
        """Ray failed: the stand-in crashes, its supervisor decides."""
        if isinstance(exc, RayActorError):
            reason: PlacementError = NodeLost(f"the Ray actor hosting {self._actor} died: {exc}")
        else:
            reason = PlacementError(f"Ray failed a request to {self._actor}: {exc}")
        reason.__cause__ = exc
        self.ref.kill(reason)

    def _failure_error(self, failure: Failure) -> Exception:
        """The local exception a failure record stands for."""
        text = f"{self._actor} on Ray: {failure.message}"
        match failure.kind:
            case "expected":
                return expected_error(failure)
            case "timeout":
                return CallTimeout(text)
            case "mailbox_full":
                return MailboxFull(text)
            case "not_alive":
                return ActorNotAlive(text)
            case "wire":
                return WireError(text)
            case "start":
                return RemoteCrash(
                    f"{self._actor} could not start on Ray: {failure.type}: {failure.message}",
                    remote_type=failure.type,
                    remote_traceback=failure.traceback,
                )
        return RemoteCrash(
            f"{self._actor} crashed on Ray: {failure.type}: {failure.message}",
            remote_type=failure.type,
            remote_traceback=failure.traceback,
        )

"""One actor incarnation: its mailbox, its task, and the actor loop.

The actor loop (:meth:`Cell.run`) is the one place where failure routing lives:

* a handler returns → the caller gets the reply;
* a handler raises :class:`ExpectedError` → the caller gets that exception, the actor
  keeps running (for casts and infos there is no caller: an event is emitted);
* a handler raises any other ``Exception`` → the caller gets :class:`ActorCrashed`
  chained to it, the actor terminates with the exception as its reason, and linked
  actors (its supervisor) are told;
* cancellation is never swallowed: a kill requested by the kernel ends the actor with
  its reason, any other cancellation is re-raised after cleanup.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import sys
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bastion._core import _carry, _event_names, _events
from bastion._core._actor import Actor
from bastion._core._durations import positive_seconds
from bastion._core._errors import (
    ActorCrashed,
    ActorError,
    ActorNotAlive,
    ExpectedError,
    LinkedExit,
    MailboxFull,
)
from bastion._core._messages import Down, Exit, ExitReason, MonitorRef, is_abnormal
from bastion._core._ref import ActorRef, incarnation_ref
from bastion._core._replies import NoReply, ReplyHandle, fail_deferred
from bastion._core._stats import ActorStatistics
from bastion._core._timers import Timer, check_delay

if TYPE_CHECKING:
    from bastion._core._meters import ActorClassMeter
    from bastion._core._runtime import Runtime

__all__ = ["CALL", "CAST", "CONTINUE", "INFO", "RUNNING", "Cell", "handler_table"]

_log = logging.getLogger("bastion.actor")

CALL, CAST, INFO, CONTINUE = 0, 1, 2, 3
STARTING, RUNNING, STOPPING, DEAD = 0, 1, 2, 3
_KIND_NAMES = ("call", "cast", "info", "continue")
#: (kind, message, reply future or None, carried context or None: see ``_carry``)
Envelope = tuple[int, Any, "asyncio.Future[Any] | None", "_carry.Snapshot | None"]
HandlerTable = tuple[tuple[Callable[..., Any], ...], tuple[bool, ...]]


@functools.lru_cache(maxsize=4096)
def _handler_table(*functions: Callable[..., Any]) -> HandlerTable:
    return functions, tuple(inspect.iscoroutinefunction(f) for f in functions)


def handler_table(actor_class: type[Actor]) -> HandlerTable:
    """The call/cast/info/continue handler functions of a class and which are async.

    Taken once per incarnation, at spawn, and shared between incarnations with the same
    functions, so an idle actor holds no bound methods.
    """
    return _handler_table(
        actor_class.handle_call,
        actor_class.handle_cast,
        actor_class.handle_info,
        actor_class.handle_continue,
    )


class Cell:
    """Kernel-private state of one actor incarnation. Users hold :class:`ActorRef`."""

    __slots__ = (
        "__weakref__",
        "actor",
        "brutal",
        "capacity",
        "deferred",
        "done",
        "entered",
        "exit_reason",
        "handled",
        "handlers",
        "id",
        "in_flight",
        "kill_reason",
        "late_replies",
        "links",
        "loop",
        "metadata",
        "meter",
        "monitored_by",
        "monitors",
        "name",
        "parent",
        "parked",
        "queue",
        "ref",
        "runtime",
        "senders",
        "started",
        "state",
        "stop_reason",
        "task",
        "timers",
        "waiter",
    )

    def __init__(self, runtime: Runtime, cell_id: int, name: str | None, capacity: int) -> None:
        self.runtime = runtime
        self.loop = runtime.loop
        self.id = cell_id
        self.name = name
        self.capacity = capacity
        self.queue: deque[Envelope] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.in_flight: asyncio.Future[Any] | None = None
        self.deferred: set[asyncio.Future[Any]] | None = None  # allocated on first use
        self.brutal = False  # killed without on_stop (a supervisor's brutal_kill)
        self.senders: deque[asyncio.Future[None]] | None = None  # allocated on first use
        self.state = STARTING
        self.parked = False
        self.handled: list[int] | None = None  # messages handled by kind; allocated by the loop
        self.late_replies = 0
        self.stop_reason: ExitReason | None = None
        self.kill_reason: ExitReason | None = None
        self.timers: set[Timer] | None = None  # allocated on first use
        self.monitors: dict[MonitorRef, Cell] | None = None  # allocated on first use
        self.monitored_by: dict[MonitorRef, Cell] | None = None
        self.links: set[Cell] | None = None  # allocated on first use
        self.metadata: dict[str, Any] = {}
        self.meter: ActorClassMeter | None = None  # shared per actor class; None: metrics off
        self.parent: Cell | None = None
        self.started: asyncio.Future[None] | None = self.loop.create_future()
        self.done: asyncio.Future[ExitReason] | None = None  # created when someone waits
        self.exit_reason: ExitReason | None = None
        self.ref = incarnation_ref(self)
        self.actor: Actor
        self.task: asyncio.Task[None] | None = None  # None until the actor first runs
        self.entered = False
        self.handlers: HandlerTable

    def __repr__(self) -> str:
        label = self.name if self.name is not None else f"#{self.id}"
        return f"{type(self.actor).__name__}({label})"

    @property
    def alive(self) -> bool:
        """True while the actor accepts messages."""
        return self.state < STOPPING

    # -- sending ---------------------------------------------------------------------
    def try_post(self, envelope: Envelope) -> bool:
        """Append to the mailbox unless full. Raises ActorNotAlive if stopping or dead."""
        if self.state >= STOPPING:
            raise ActorNotAlive(f"{self!r} is not alive")
        if len(self.queue) >= self.capacity:
            return False
        self.queue.append(envelope)
        if self.parked:
            self.wake()
        return True

    def post_system(self, envelope: Envelope) -> None:
        """Append a kernel notice, ignoring capacity. Dropped if the actor is stopping."""
        if self.state >= STOPPING:
            return
        self.queue.append(envelope)
        if self.parked:
            self.wake()

    def wake(self) -> None:
        """Resume a parked actor and count it busy again; give a dormant one its task."""
        self.parked = False
        self.runtime._unpark()
        if self.task is None:
            self.start_task()
            return
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def post(
        self, envelope: Envelope, deadline: float, on_expiry: type[Exception] = MailboxFull
    ) -> None:
        """Append under backpressure, waiting for room until ``deadline`` (loop time).

        Raises ``on_expiry`` if the mailbox is still full at the deadline.
        """
        while not self.try_post(envelope):
            room: asyncio.Future[None] = self.loop.create_future()
            if self.senders is None:
                self.senders = deque()
            self.senders.append(room)
            handle = self.loop.call_at(deadline, _expire_room, room, self, on_expiry)
            try:
                await room
            finally:
                handle.cancel()
            if self.state >= STOPPING:
                raise ActorNotAlive(f"{self!r} stopped while the sender waited for room")

    def deliver_timer(self, message: Any, carried: _carry.Snapshot | None = None) -> None:
        """Deliver a timer message (with the context it was set in); full mailbox: dead letter."""
        if self.state >= STOPPING:
            return
        if not self.try_post((INFO, message, None, carried)):
            self.runtime._note_mailbox_full(self)
            self.runtime.dead_letters._add(self, message, "mailbox_full")

    # -- the actor loop ----------------------------------------------------------------
    def start_task(self) -> None:
        """Create the actor's task: at spawn, or on a dormant actor's first use."""
        self.task = self.loop.create_task(self.run(), name=f"bastion:{self!r}")

    async def run(self) -> None:
        """The task body: start handshake, message loop, termination."""
        self.entered = True
        if self.kill_reason is not None:  # killed before the task ever ran
            await self._killed_before_running(self.kill_reason)
            return
        if self.state == STARTING and not await self._start():
            return
        foreign = False
        try:
            _carry.reset()  # messages bring their own context, not the task creator's
            reason = await self._loop()
        except asyncio.CancelledError:
            foreign = not self._consume_kill()
            reason = self.kill_reason if self.kill_reason is not None else "killed"
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: clean up, re-raise
            await self.terminate(exc)
            raise
        await self.terminate(reason)
        if foreign:
            raise asyncio.CancelledError

    async def _start(self) -> bool:
        """Run ``on_start``; False if the start failed (the cell is then released).

        A kill during ``on_start`` is a failed start like an exception: the spawner gets
        a typed error, the supervisor an exit. Only cancellation that is not this actor's
        kill propagates, after the start has been failed.
        """
        try:
            result = self.actor.on_start()
            if result is not None:
                await result
        except asyncio.CancelledError:
            foreign = not self._consume_kill()
            self._fail_start(self.kill_reason if self.kill_reason is not None else "killed")
            if foreign:
                raise
            return False
        except Exception as exc:  # noqa: BLE001 -- a failed start is reported at the spawn site
            self._fail_start(exc)
            return False
        if self.kill_reason is not None:  # on_start swallowed its kill: it still counts
            self._consume_kill()
            self._fail_start(self.kill_reason)
            return False
        self.state = RUNNING
        started = self.started
        if started is not None and not started.done():
            started.set_result(None)
        return True

    def _consume_kill(self) -> bool:
        """After a ``CancelledError``: True if it was this actor's kill, now consumed.

        :meth:`kill` cancels the task once; that cancellation belongs to the kernel and
        is taken back here (``uncancel``). False means someone else's cancellation is
        (also) pending: the caller must let it propagate.
        """
        task = self.task
        if self.kill_reason is None or task is None or task.cancelling() == 0:
            return False
        return task.uncancel() == 0

    async def _killed_before_running(self, reason: ExitReason) -> None:
        if self.state == STARTING:
            self._fail_start(reason)
        else:
            await self.terminate(reason)

    def _fail_start(self, reason: ExitReason) -> None:
        """Release a cell whose start failed; the spawner gets a typed error for ``reason``."""
        started = self.started
        if started is not None and not started.done():
            started.set_exception(_start_error(self, reason))
        self.release(reason)

    async def _loop(self) -> ExitReason:
        queue = self.queue
        actor = self.actor
        loop = self.loop
        functions, is_async = self.handlers
        handled = self.handled
        if handled is None:
            handled = self.handled = [0, 0, 0, 0]  # CALL, CAST, INFO, CONTINUE
        meter = self.meter  # metrics: the class's mailbox high-water, kept in a local
        high = meter.high_water if meter is not None else sys.maxsize
        no_reply = NoReply
        carrying = False  # a message's carried context is (or may be) current
        while True:
            if self.stop_reason is not None:
                return self.stop_reason
            if not queue:  # parked: the task runs nothing until the next message,
                self.parked = True  # which brings its own context (or none: reset below)
                self.runtime._park()
                self.waiter = loop.create_future()
                await self.waiter
                continue
            if len(queue) > high:  # the depth just before a pop is the depth's peak
                high = self._raise_high_water(len(queue))
            kind, message, reply, carried = queue.popleft()
            if self.senders:
                _wake_sender(self.senders)
            handled[kind] += 1
            self.in_flight = reply
            entered: _carry.Carrier | None = None
            token: Any = None
            if carried is not None:  # the sender's context: current while the handler runs
                carrying = True
                current = _carry.current  # C-level read of what is current, if the carrier has one
                if current is None or carried is not current():  # else: already current
                    entered = _carry.active
                    token = entered.enter(carried, self, kind, message)
            elif carrying:  # a message sent outside any context, after one sent inside
                _carry.reset()
                carrying = False
            try:
                result = functions[kind](actor, message)
                if is_async[kind]:
                    result = await result
            except ExpectedError as exc:
                self._expected_error(kind, message, reply, exc)
                if carried is not None:
                    _carry.leave_failed(entered, token, exc)
                continue
            except Exception as exc:  # noqa: BLE001 -- failure routing: the actor crashes, the caller is told
                if carried is not None:
                    _carry.leave_failed(entered, token, exc)
                if reply is not None and not reply.done():
                    crashed = ActorCrashed(
                        f"{self!r} crashed handling {type(message).__name__}: {exc!r}"
                    )
                    crashed.__cause__ = exc
                    reply.set_exception(crashed)
                return exc
            except BaseException as exc:  # cancelled (killed) mid-handler: restore, re-raise
                if carried is not None:
                    _carry.leave_failed(entered, token, exc)
                raise
            if entered is not None and token is not None:
                entered.leave(token, None)
            if reply is not None:
                if result is no_reply:
                    if self.in_flight is reply:  # no reply handle was taken
                        return self._no_reply_without_handle(message, reply)
                    continue
                if reply.done():
                    self.late_replies += 1
                    self.runtime._note_late_reply()
                else:
                    reply.set_result(result)

    def _raise_high_water(self, depth: int) -> int:
        meter = self.meter
        assert meter is not None
        if depth > meter.high_water:
            meter.high_water = depth
        return meter.high_water

    def _no_reply_without_handle(self, message: Any, reply: asyncio.Future[Any]) -> ActorError:
        error = ActorError(
            f"{self!r}: handle_call returned bastion.NoReply for {type(message).__name__} "
            "without taking self.reply_handle(); nothing could ever answer the call"
        )
        if not reply.done():
            crashed = ActorCrashed(f"{self!r} crashed handling {type(message).__name__}")
            crashed.__cause__ = error
            reply.set_exception(crashed)
        return error

    def _expected_error(
        self, kind: int, message: Any, reply: asyncio.Future[Any] | None, exc: ExpectedError
    ) -> None:
        if reply is not None:
            if not reply.done():
                reply.set_exception(exc)
            return
        _events.emit(
            _event_names.ACTOR_EXPECTED_ERROR,
            {"count": 1},
            {"actor": repr(self), "kind": _KIND_NAMES[kind], "error": exc},
        )

    # -- termination -----------------------------------------------------------------
    async def terminate(self, reason: ExitReason) -> None:
        """Run ``on_stop`` and release everything the actor held.

        A kill during ``on_stop`` cuts it short and becomes the exit reason.
        """
        if self.exit_reason is not None:  # released already (abandoned by _stop_cell)
            return
        self.state = STOPPING
        _carry.reset()  # on_stop runs in no message's context
        if self.brutal:  # a supervisor's brutal_kill: on_stop does not run
            self.release(reason)
            return
        budget = self.actor.actor_stop_timeout()
        try:
            async with asyncio.timeout(self.runtime.call_timeout if budget is None else budget):
                result = self.actor.on_stop(reason)
                if result is not None:
                    await result
        except asyncio.CancelledError:
            if not self._consume_kill():
                raise  # someone else's cancellation: released below, then propagated
        except Exception:  # noqa: BLE001 -- a failing on_stop must not stop the cleanup; it is logged
            _log.exception("%r: on_stop failed", self)
        finally:
            self.release(reason if self.kill_reason is None else self.kill_reason)

    def release(self, reason: ExitReason) -> None:
        """Mark dead, answer pending callers, release timers, monitors and links (once)."""
        if self.exit_reason is not None:
            return
        self.state = DEAD
        runtime = self.runtime
        if self.meter is not None and self.handled is not None:
            self.meter.casts += self.handled[CAST]  # the class keeps what this actor handled
        was_busy = not self.parked
        self.parked = False
        failure = ActorNotAlive(f"{self!r} stopped before handling the message ({reason!r})")
        if isinstance(reason, BaseException):
            failure.__cause__ = reason
        in_flight = self.in_flight
        if in_flight is not None and not in_flight.done():
            interrupted = ActorNotAlive(f"{self!r} stopped while handling the message ({reason!r})")
            interrupted.__cause__ = failure.__cause__
            in_flight.set_exception(interrupted)
        self.in_flight = None
        for pending in list(self.deferred or ()):
            fail_deferred(self, pending, reason)
        self.deferred = None
        for kind, message, reply, _carried in self.queue:
            if reply is not None:
                if not reply.done():
                    reply.set_exception(failure)
            elif kind != CONTINUE and not isinstance(message, Down | Exit):
                runtime.dead_letters._add(self, message, f"actor stopped: {_reason_text(reason)}")
        self.queue.clear()
        while self.senders:
            _wake_sender(self.senders)
        for timer in list(self.timers or ()):
            timer.cancel()
        for monitor in list(self.monitors or ()):
            self.demonitor(monitor)
        for monitor, watcher in list((self.monitored_by or {}).items()):
            if watcher.monitors is not None:
                watcher.monitors.pop(monitor, None)
            watcher.post_system((INFO, Down(monitor, self.ref, reason), None, None))
        self.monitored_by = None
        for other in list(self.links or ()):
            other.unlink_cell(self)
            other.exit_signal(self, reason)
        self.links = None
        runtime._forget(self, reason)
        self.exit_reason = reason
        done = self.done
        if done is not None and not done.done():
            done.set_result(reason)
        if was_busy:
            runtime._park()  # counted idle only now, once everything above is released

    def exit_signal(self, source: Cell, reason: ExitReason) -> None:
        """A linked actor stopped: trap it as a notice, or die with it if abnormal."""
        if self.state >= STOPPING:
            return
        if type(self.actor).trap_exits:
            self.post_system((INFO, Exit(source.ref, reason), None, None))
        elif is_abnormal(reason):
            exc = LinkedExit(f"linked actor {source!r} exited: {_reason_text(reason)}")
            if isinstance(reason, BaseException):
                exc.__cause__ = reason
            self.kill(exc)

    def kill(self, reason: ExitReason) -> None:
        """End the actor now, even inside a handler, with ``reason``."""
        if self.state == DEAD or self.kill_reason is not None:
            return
        self.kill_reason = reason
        if self.task is None:
            self.start_task()  # a dormant actor: its task runs only to terminate
        elif self.entered:
            self.task.cancel()
        # else: the task has not run yet; run() sees kill_reason first thing

    def kill_brutally(self, reason: ExitReason) -> None:
        """Like :meth:`kill`, but ``on_stop`` does not run (a supervisor's ``brutal_kill``)."""
        if self.state == DEAD or self.kill_reason is not None:
            return
        self.brutal = True
        if self.stop_reason is None:  # a handler that swallows the kill ends the loop then
            self.stop_reason = reason
        self.kill(reason)

    def request_stop(self, reason: ExitReason) -> None:
        """Stop after the current handler; wakes a parked actor."""
        if self.state >= STOPPING or self.stop_reason is not None:
            return
        self.stop_reason = reason
        if self.parked:
            self.wake()

    # -- deferred replies and continuations -------------------------------------------
    def reply_handle(self) -> ReplyHandle:
        """Take over answering the call being handled (see :class:`ReplyHandle`)."""
        reply = self.in_flight
        if reply is None or self.state != RUNNING or not self.runtime._in_actor(self):
            raise ActorError(
                "reply_handle() works once per call, inside handle_call, in the actor's own task"
            )
        self.in_flight = None  # release() now answers it through self.deferred
        if self.deferred is None:
            self.deferred = set()
        self.deferred.add(reply)
        reply.add_done_callback(self.deferred.discard)
        return ReplyHandle._create(self, reply)

    def count_late_reply(self) -> None:
        """Count a reply that found its caller gone (deadline passed or answered)."""
        self.late_replies += 1
        self.runtime._note_late_reply()

    def continue_with(self, message: Any) -> None:
        """Run ``handle_continue(message)`` before the next message in the mailbox."""
        if type(self.actor).handle_continue is Actor.handle_continue:
            raise TypeError(f"{type(self.actor).__qualname__} does not define handle_continue")
        if self.state > RUNNING or not self.runtime._in_actor(self):
            raise ActorError(
                "continue_with() works in on_start and in handlers, in the actor's own task"
            )
        if self.queue and self.queue[0][0] == CONTINUE:
            raise ActorError(f"{self!r} already has a continuation pending; one at a time")
        self.queue.appendleft((CONTINUE, message, None, _carry.capture()))  # same request

    # -- timers, monitors, links --------------------------------------------------------
    def start_timer(self, delay: float, message: Any, *, periodic: bool) -> Timer:
        """Start a timer owned by this actor."""
        delay = positive_seconds("period", delay) if periodic else check_delay(delay)
        if self.state >= STOPPING:
            raise ActorNotAlive(f"{self!r} is stopping; no new timers")
        timer = Timer._create(self, delay, message, periodic=periodic)
        if self.timers is None:
            self.timers = set()
        self.timers.add(timer)
        return timer

    def monitor(self, target: ActorRef | str) -> MonitorRef:
        """Watch ``target`` (a ref or a registered name); a Down notice arrives when it stops."""
        if isinstance(target, str):
            target = self.runtime.ref(target)
        if not isinstance(target, ActorRef):
            raise TypeError(f"monitor() takes an ActorRef or a registered name, got {target!r}")
        monitor = MonitorRef(target)
        other = target._resolve_or_none()
        if other is None or not other.alive:
            reason = other.exit_reason if other is not None and other.exit_reason else "noproc"
            self.post_system((INFO, Down(monitor, target, reason), None, None))
            return monitor
        if self.monitors is None:
            self.monitors = {}
        if other.monitored_by is None:
            other.monitored_by = {}
        self.monitors[monitor] = other
        other.monitored_by[monitor] = self
        return monitor

    def demonitor(self, monitor: MonitorRef) -> bool:
        """Stop watching; returns False if the monitor is not active."""
        other = self.monitors.pop(monitor, None) if self.monitors is not None else None
        if other is None:
            return False
        if other.monitored_by is not None:
            other.monitored_by.pop(monitor, None)
        return True

    def link(self, target: ActorRef) -> None:
        """Link both ways; linking to a dead actor delivers its exit at once."""
        other = target._resolve()
        if other is self:
            raise ValueError("an actor cannot link to itself")
        if not other.alive:
            self.exit_signal(other, "noproc")
            return
        self.link_cell(other)
        other.link_cell(self)

    def unlink(self, target: ActorRef) -> None:
        """Remove a link (no-op if absent)."""
        other = target._resolve_or_none()
        if other is not None:
            self.unlink_cell(other)
            other.unlink_cell(self)

    def link_cell(self, other: Cell) -> None:
        """Record one side of a link."""
        if self.links is None:
            self.links = set()
        self.links.add(other)

    def unlink_cell(self, other: Cell) -> None:
        """Forget one side of a link."""
        if self.links is not None:
            self.links.discard(other)

    def done_future(self) -> asyncio.Future[ExitReason]:
        """A future resolved with the exit reason when this incarnation is released."""
        done = self.done
        if done is None:
            done = self.done = self.loop.create_future()
            if self.state == DEAD:
                done.set_result(self.exit_reason if self.exit_reason is not None else "normal")
        return done

    def statistics(self) -> ActorStatistics:
        """A snapshot of this incarnation."""
        return ActorStatistics(
            id=self.id,
            name=self.name,
            actor_class=type(self.actor).__qualname__,
            alive=self.alive,
            parked=self.parked,
            mailbox_depth=len(self.queue),
            mailbox_capacity=self.capacity,
            processed=sum(self.handled or ()),
            late_replies=self.late_replies,
            timers=len(self.timers or ()),
            monitors=len(self.monitors or ()),
            monitored_by=len(self.monitored_by or ()),
            links=len(self.links or ()),
            blocked_senders=len(self.senders or ()),
        )


def _wake_sender(senders: deque[asyncio.Future[None]]) -> None:
    while senders:
        room = senders.popleft()
        if not room.done():
            room.set_result(None)
            return


def _expire_room(room: asyncio.Future[None], cell: Cell, error: type[Exception]) -> None:
    if not room.done():
        cell.runtime._note_mailbox_full(cell)
        room.set_exception(error(f"mailbox of {cell!r} still full at the deadline"))


def _start_error(cell: Cell, reason: ExitReason) -> Exception:
    """What the spawner of a failed start gets (it wraps it in ``StartFailed``)."""
    if isinstance(reason, Exception):
        return reason
    error = ActorNotAlive(f"{cell!r} stopped during on_start ({_reason_text(reason)})")
    if isinstance(reason, BaseException):
        error.__cause__ = reason
    return error


def _reason_text(reason: ExitReason) -> str:
    return reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"

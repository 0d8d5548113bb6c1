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
import contextvars
import functools
import inspect
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bastion._core import _carry, _event_names, _events
from bastion._core import _cell_exit as _exit
from bastion._core import _cell_mailbox as _mailbox
from bastion._core import _cell_services as _services
from bastion._core._actor import Actor
from bastion._core._envelope import (
    CALL,
    CAST,
    CONTINUE,
    INFO,
    RUNNING,
    STARTING,
    STOPPING,
    Envelope,
    wake_sender,
)
from bastion._core._errors import (
    ActorCrashed,
    ActorError,
    ExpectedError,
)
from bastion._core._messages import ExitReason, MonitorRef
from bastion._core._ref import incarnation_ref
from bastion._core._replies import DeferredReplies, NoReply
from bastion._core._timers import Timer

if TYPE_CHECKING:
    from bastion._core._cell_start import Starting
    from bastion._core._meters import ActorClassMeter
    from bastion._core._runtime import Runtime

__all__ = ["CALL", "CAST", "CONTINUE", "INFO", "RUNNING", "Cell", "handler_table"]

_log = logging.getLogger("bastion.actor")

_KIND_NAMES = ("call", "cast", "info", "continue")
_CARRYING = object()  # the actor loop's marker: a carried context may be current
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
        "attention",
        "brutal",
        "capacity",
        "context",
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
        "limit",
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
        "starting",
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
        # The mailbox depth at which try_post leaves its fast path: the capacity, or the
        # class's mailbox high-water mark if lower (metrics); 0 while the actor is parked,
        # stopping or dead (or not computed yet): every send then takes the slow path.
        self.limit = 0
        self.queue: deque[Envelope] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.in_flight: asyncio.Future[Any] | None = None
        self.deferred: DeferredReplies | None = None  # allocated on first use
        self.attention = False  # the loop must look: a stop requested or senders waiting
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
        self.starting: Starting | None = None  # drives an on_start that waits (_cell_start)
        self.done: asyncio.Future[ExitReason] | None = None  # created when someone waits
        self.exit_reason: ExitReason | None = None
        self.ref = incarnation_ref(self)
        self.actor: Actor
        self.task: asyncio.Task[None] | None = None  # None until the actor first runs
        # The context on_start left (a started actor goes dormant: its next task runs in
        # it); None: a task runs in a copy of whoever woke the actor.
        self.context: contextvars.Context | None = None
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
        """Append to the mailbox unless full. Raises ActorNotAlive if stopping or dead.

        One test on the fast path: below ``limit`` the actor is running and has room.
        A parked, stopping or dead actor, a full mailbox and a new high-water mark are
        the slow path (:func:`~bastion._core._cell_mailbox.post_at_limit`).
        """
        if len(self.queue) < self.limit:
            self.queue.append(envelope)
            return True
        return self._post_at_limit(envelope)

    def post_system(self, envelope: Envelope) -> None:
        """Append a kernel notice, ignoring capacity. Dropped if the actor is stopping."""
        if self.state >= STOPPING:
            return
        self.queue.append(envelope)
        if self.parked:
            self.wake()
        if len(self.queue) >= self.limit:
            self._note_depth(len(self.queue))

    def wake(self) -> None:
        """Resume a parked actor and count it busy again; give a dormant one its task."""
        self.parked = False
        self.runtime._busy += 1  # inlined Runtime._unpark: once per wake-up
        if self.task is None:
            self.start_task()
            return
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- the actor loop ----------------------------------------------------------------
    def start_task(self) -> None:
        """Create the actor's task: on a dormant actor's first use (or kill), or after
        ``on_start`` if messages came meanwhile."""
        label = self.name if self.name is not None else f"#{self.id}"  # repr, inlined
        self.task = self.loop.create_task(
            self.run(),
            name=f"bastion:{type(self.actor).__name__}({label})",
            context=self.context,
        )

    async def run(self) -> None:
        """The task body: message loop, termination (``on_start`` ran at spawn)."""
        self.entered = True
        if self.kill_reason is not None:  # killed before the task ever ran
            await self._killed_before_running(self.kill_reason)
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

    async def _loop(self) -> ExitReason:
        queue = self.queue
        actor = self.actor
        loop = self.loop
        runtime = self.runtime
        functions, is_async = self.handlers
        handled = self.handled
        if handled is None:
            handled = self.handled = [0, 0, 0, 0]  # CALL, CAST, INFO, CONTINUE
        no_reply = NoReply
        # Carried context (see _carry). ``carrying`` is None while nothing carried is
        # current, else _CARRYING (never a carried value): a message that carries nothing
        # and finds nothing current costs one identity test. ``token`` is not None only
        # between an ``enter`` that returned one and its ``leave``.
        carrying: object = None
        entered: _carry.Carrier | None = None
        token: Any = None
        while True:
            if self.attention:  # one test per message for both: stop, or senders to wake
                if self.stop_reason is not None:
                    return self.stop_reason
                if queue and self.senders:  # the message popped below makes the room
                    wake_sender(self.senders)
                self.attention = bool(self.senders)
            if not queue:  # parked: the task runs nothing until the next message,
                self.parked = True  # which brings its own context (or none: reset below)
                self.limit = 0  # the next send takes the slow path, which wakes the actor
                runtime._busy -= 1  # inlined Runtime._park: once per wake-up
                if runtime._busy == 0 and runtime._idle_waiters:
                    runtime._notify_idle()
                self.waiter = loop.create_future()
                await self.waiter
                continue
            kind, message, reply, carried = queue.popleft()
            handled[kind] += 1
            self.in_flight = reply
            if carried is not carrying:  # a context to make current, or one to clear
                if carried is None:  # sent outside any context, after one sent inside
                    _carry.reset()
                    carrying = None
                else:
                    carrying = _CARRYING
                    current = _carry.current  # C-level read of what is current, if any
                    if current is None or carried is not current():  # else: already current
                        entered = _carry.active
                        token = entered.enter(carried, self, kind, message)
            try:
                result = functions[kind](actor, message)
                if is_async[kind]:
                    result = await result
            except ExpectedError as exc:
                self._expected_error(kind, message, reply, exc)
                if carried is not None:
                    _carry.leave_failed(entered if token is not None else None, token, exc)
                    token = None
                continue
            except Exception as exc:  # noqa: BLE001 -- failure routing: the actor crashes, the caller is told
                if carried is not None:
                    _carry.leave_failed(entered if token is not None else None, token, exc)
                if reply is not None and not reply.done():
                    crashed = ActorCrashed(
                        f"{self!r} crashed handling {type(message).__name__}: {exc!r}"
                    )
                    crashed.__cause__ = exc
                    reply.set_exception(crashed)
                return exc
            except BaseException as exc:  # cancelled (killed) mid-handler: restore, re-raise
                if carried is not None:
                    _carry.leave_failed(entered if token is not None else None, token, exc)
                raise
            if token is not None:
                assert entered is not None
                entered.leave(token, None)
                token = None
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

    # -- the rest of the kernel interface, defined apart (bound here: no extra call) ---
    _consume_kill = _exit.consume_kill  # how a cell ends: _cell_exit
    _killed_before_running = _exit.killed_before_running
    terminate = _exit.terminate
    release = _exit.release
    exit_signal = _exit.exit_signal
    kill = _exit.kill
    kill_brutally = _exit.kill_brutally
    request_stop = _exit.request_stop
    done_future = _exit.done_future
    reply_handle = _services.reply_handle  # what actor code asks of its cell: _cell_services
    count_late_reply = _services.count_late_reply
    continue_with = _services.continue_with
    start_timer = _services.start_timer
    monitor = _services.monitor
    demonitor = _services.demonitor
    link = _services.link
    unlink = _services.unlink
    link_cell = _services.link_cell
    unlink_cell = _services.unlink_cell
    statistics = _services.statistics
    post = _mailbox.post  # the mailbox's slow paths: _cell_mailbox
    deliver_timer = _mailbox.deliver_timer
    _post_at_limit = _mailbox.post_at_limit
    _note_depth = _mailbox.note_depth

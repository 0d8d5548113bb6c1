"""What an actor's code asks of its cell besides sending: timers, monitors, links,
deferred replies, continuations and statistics.

Methods of :class:`~bastion._core._cell.Cell` (which binds them in its class body, so a
call costs what a method defined there costs) kept apart from the actor loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from bastion._core import _carry
from bastion._core._actor import Actor
from bastion._core._durations import positive_seconds
from bastion._core._envelope import CONTINUE, INFO, RUNNING, STOPPING
from bastion._core._errors import ActorError, ActorNotAlive
from bastion._core._messages import Down, MonitorRef
from bastion._core._ref import ActorRef
from bastion._core._replies import DeferredReplies, ReplyHandle
from bastion._core._stats import ActorStatistics
from bastion._core._timers import Timer, check_delay

if TYPE_CHECKING:
    from bastion._core._cell import Cell

__all__ = [
    "answer_deferred",
    "continue_with",
    "count_late_reply",
    "defer_reply",
    "demonitor",
    "link",
    "link_cell",
    "monitor",
    "reply_handle",
    "start_timer",
    "statistics",
    "unlink",
    "unlink_cell",
]


def start_timer(cell: Cell, delay: float, message: Any, *, periodic: bool) -> Timer:
    """Start a timer owned by this actor."""
    delay = positive_seconds("period", delay) if periodic else check_delay(delay)
    if cell.state >= STOPPING:
        raise ActorNotAlive(f"{cell!r} is stopping; no new timers")
    timer = Timer._create(cell, delay, message, periodic=periodic)
    if cell.timers is None:
        cell.timers = set()
    cell.timers.add(timer)
    return timer


def monitor(cell: Cell, target: ActorRef | str) -> MonitorRef:
    """Watch ``target`` (a ref or a registered name); a Down notice arrives when it stops."""
    if isinstance(target, str):
        target = cell.runtime.ref(target)
    if not isinstance(target, ActorRef):
        raise TypeError(f"monitor() takes an ActorRef or a registered name, got {target!r}")
    monitor = MonitorRef(target)
    other = target._resolve_or_none()
    if other is None or not other.alive:
        reason = other.exit_reason if other is not None and other.exit_reason else "noproc"
        cell.post_system((INFO, Down(monitor, target, reason), None, None))
        return monitor
    if cell.monitors is None:
        cell.monitors = {}
    if other.monitored_by is None:
        other.monitored_by = {}
    cell.monitors[monitor] = other
    other.monitored_by[monitor] = cell
    return monitor


def demonitor(cell: Cell, monitor: MonitorRef) -> bool:
    """Stop watching; returns False if the monitor is not active."""
    other = cell.monitors.pop(monitor, None) if cell.monitors is not None else None
    if other is None:
        return False
    if other.monitored_by is not None:
        other.monitored_by.pop(monitor, None)
    return True


def link(cell: Cell, target: ActorRef) -> None:
    """Link both ways; linking to a dead actor delivers its exit at once."""
    other = target._resolve()
    if other is cell:
        raise ValueError("an actor cannot link to itself")
    if not other.alive:
        cell.exit_signal(other, "noproc")
        return
    cell.link_cell(other)
    other.link_cell(cell)


def unlink(cell: Cell, target: ActorRef) -> None:
    """Remove a link (no-op if absent)."""
    other = target._resolve_or_none()
    if other is not None:
        cell.unlink_cell(other)
        other.unlink_cell(cell)


def link_cell(cell: Cell, other: Cell) -> None:
    """Record one side of a link."""
    if cell.links is None:
        cell.links = set()
    cell.links.add(other)


def unlink_cell(cell: Cell, other: Cell) -> None:
    """Forget one side of a link."""
    if cell.links is not None:
        cell.links.discard(other)


def reply_handle(cell: Cell) -> ReplyHandle:
    """Take over answering the call being handled (see :class:`ReplyHandle`)."""
    reply = cell.in_flight
    if reply is None or cell.state != RUNNING or not cell.runtime._in_actor(cell):
        raise ActorError(
            "reply_handle() works once per call, inside handle_call, in the actor's own task"
        )
    cell.in_flight = None  # release() now answers it through cell.deferred
    deferred = cell.deferred
    if deferred is None:
        deferred = cell.deferred = DeferredReplies()
    deferred.add_pending(reply)
    return ReplyHandle._create(cell, reply)


def defer_reply(cell: Cell) -> asyncio.Future[Any]:
    """The framework's :func:`reply_handle` without the handle: the future of the call
    being handled, answered later with :func:`answer_deferred`.

    For framework code on the return path of ``handle_call``, in the actor's own task
    (an acknowledged action whose reply waits for its commit): no handle object, and
    the same :class:`ActorError` as ``reply_handle()`` when no call is being handled.
    """
    reply = cell.in_flight
    if reply is None or cell.state != RUNNING:
        raise ActorError(
            "reply_handle() works once per call, inside handle_call, in the actor's own task"
        )
    cell.in_flight = None
    deferred = cell.deferred
    if deferred is None:
        deferred = cell.deferred = DeferredReplies()
    deferred.add_pending(reply)
    return reply


def answer_deferred(
    cell: Cell, reply: asyncio.Future[Any], value: Any, error: BaseException | None = None
) -> bool:
    """Answer a call taken with :func:`defer_reply`, once: ``error`` (if not None) is
    raised at the caller, else ``value`` returned. False if the caller no longer waits
    (counted as a late reply, as :meth:`ReplyHandle.reply` does)."""
    deferred = cell.deferred
    if deferred is not None:
        deferred.discard(reply)
    if reply.done():
        count_late_reply(cell)
        return False
    if error is None:
        reply.set_result(value)
    else:
        reply.set_exception(error)
    return True


def count_late_reply(cell: Cell) -> None:
    """Count a reply that found its caller gone (deadline passed or answered)."""
    cell.late_replies += 1
    cell.runtime._note_late_reply()


def continue_with(cell: Cell, message: Any) -> None:
    """Run ``handle_continue(message)`` before the next message in the mailbox."""
    if type(cell.actor).handle_continue is Actor.handle_continue:
        raise TypeError(f"{type(cell.actor).__qualname__} does not define handle_continue")
    if cell.state > RUNNING or not cell.runtime._in_actor(cell):
        raise ActorError(
            "continue_with() works in on_start and in handlers, in the actor's own task"
        )
    if cell.queue and cell.queue[0][0] == CONTINUE:
        raise ActorError(f"{cell!r} already has a continuation pending; one at a time")
    cell.queue.appendleft((CONTINUE, message, None, _carry.capture()))  # same request


def statistics(cell: Cell) -> ActorStatistics:
    """A snapshot of this incarnation."""
    return ActorStatistics(
        id=cell.id,
        name=cell.name,
        actor_class=type(cell.actor).__qualname__,
        alive=cell.alive,
        parked=cell.parked,
        mailbox_depth=len(cell.queue),
        mailbox_capacity=cell.capacity,
        processed=sum(cell.handled or ()),
        late_replies=cell.late_replies,
        timers=len(cell.timers or ()),
        monitors=len(cell.monitors or ()),
        monitored_by=len(cell.monitored_by or ()),
        links=len(cell.links or ()),
        blocked_senders=len(cell.senders or ()),
    )

"""How a cell ends: ``on_stop``, release, exit signals, kill, stop (its start:
``_cell_start``).

Methods of :class:`~bastion._core._cell.Cell` (which binds them in its class body, so a
call costs what a method defined there costs) kept apart from the actor loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bastion._core import _carry
from bastion._core._envelope import (
    CAST,
    CONTINUE,
    DEAD,
    INFO,
    STARTING,
    STOPPING,
    wake_sender,
)
from bastion._core._errors import ActorNotAlive, LinkedExit
from bastion._core._messages import Down, Exit, ExitReason, is_abnormal
from bastion._core._replies import fail_deferred

if TYPE_CHECKING:
    from bastion._core._cell import Cell

__all__ = [
    "consume_kill",
    "done_future",
    "exit_signal",
    "kill",
    "kill_brutally",
    "killed_before_running",
    "release",
    "request_stop",
    "terminate",
]

_log = logging.getLogger("bastion.actor")


def consume_kill(cell: Cell) -> bool:
    """After a ``CancelledError``: True if it was this actor's kill, now consumed.

    :meth:`kill` cancels the task once; that cancellation belongs to the kernel and
    is taken back here (``uncancel``). False means someone else's cancellation is
    (also) pending: the caller must let it propagate.
    """
    task = cell.task
    if cell.kill_reason is None or task is None or task.cancelling() == 0:
        return False
    return task.uncancel() == 0


async def killed_before_running(cell: Cell, reason: ExitReason) -> None:
    """A dormant actor's task that runs only to terminate."""
    await cell.terminate(reason)


async def terminate(cell: Cell, reason: ExitReason) -> None:
    """Run ``on_stop`` and release everything the actor held.

    A kill during ``on_stop`` cuts it short and becomes the exit reason.
    """
    if cell.exit_reason is not None:  # released already (abandoned by _stop_cell)
        return
    cell.state = STOPPING
    cell.limit = 0  # sends take the slow path, which refuses them
    _carry.reset()  # on_stop runs in no message's context
    if cell.brutal:  # a supervisor's brutal_kill: on_stop does not run
        cell.release(reason)
        return
    budget = cell.actor.actor_stop_timeout()
    try:
        async with asyncio.timeout(cell.runtime.call_timeout if budget is None else budget):
            result = cell.actor.on_stop(reason)
            if result is not None:
                await result
    except asyncio.CancelledError:
        if not cell._consume_kill():
            raise  # someone else's cancellation: released below, then propagated
    except Exception:  # noqa: BLE001 -- a failing on_stop must not stop the cleanup; it is logged
        _log.exception("%r: on_stop failed", cell)
    finally:
        cell.release(reason if cell.kill_reason is None else cell.kill_reason)


def release(cell: Cell, reason: ExitReason) -> None:
    """Mark dead, answer pending callers, release timers, monitors and links (once)."""
    if cell.exit_reason is not None:
        return
    cell.state = DEAD
    cell.limit = 0
    runtime = cell.runtime
    if cell.meter is not None and cell.handled is not None:
        cell.meter.casts += cell.handled[CAST]  # the class keeps what this actor handled
    was_busy = not cell.parked
    cell.parked = False
    failure = ActorNotAlive(f"{cell!r} stopped before handling the message ({reason!r})")
    if isinstance(reason, BaseException):
        failure.__cause__ = reason
    in_flight = cell.in_flight
    if in_flight is not None and not in_flight.done():
        interrupted = ActorNotAlive(f"{cell!r} stopped while handling the message ({reason!r})")
        interrupted.__cause__ = failure.__cause__
        in_flight.set_exception(interrupted)
    cell.in_flight = None
    for pending in list(cell.deferred or ()):
        fail_deferred(cell, pending, reason)
    cell.deferred = None
    for kind, message, reply, _carried in cell.queue:
        if reply is not None:
            if not reply.done():
                reply.set_exception(failure)
        elif kind != CONTINUE and not isinstance(message, Down | Exit):
            runtime.dead_letters._add(cell, message, f"actor stopped: {_reason_text(reason)}")
    cell.queue.clear()
    while cell.senders:
        wake_sender(cell.senders)
    for timer in list(cell.timers or ()):
        timer.cancel()
    for monitor in list(cell.monitors or ()):
        cell.demonitor(monitor)
    for monitor, watcher in list((cell.monitored_by or {}).items()):
        if watcher.monitors is not None:
            watcher.monitors.pop(monitor, None)
        watcher.post_system((INFO, Down(monitor, cell.ref, reason), None, None))
    cell.monitored_by = None
    for other in list(cell.links or ()):
        other.unlink_cell(cell)
        other.exit_signal(cell, reason)
    cell.links = None
    runtime._forget(cell, reason)
    cell.exit_reason = reason
    done = cell.done
    if done is not None and not done.done():
        done.set_result(reason)
    if was_busy:
        runtime._park()  # counted idle only now, once everything above is released


def exit_signal(cell: Cell, source: Cell, reason: ExitReason) -> None:
    """A linked actor stopped: trap it as a notice, or die with it if abnormal."""
    if cell.state >= STOPPING:
        return
    if type(cell.actor).trap_exits:
        cell.post_system((INFO, Exit(source.ref, reason), None, None))
    elif is_abnormal(reason):
        exc = LinkedExit(f"linked actor {source!r} exited: {_reason_text(reason)}")
        if isinstance(reason, BaseException):
            exc.__cause__ = reason
        cell.kill(exc)


def kill(cell: Cell, reason: ExitReason) -> None:
    """End the actor now, even inside a handler, with ``reason``."""
    if cell.state == DEAD or cell.kill_reason is not None:
        return
    cell.kill_reason = reason
    if cell.state == STARTING:
        if cell.starting is not None:  # on_start waits, driven in the spawner's task
            cell.starting.interrupt()
        # else: on_start runs now (or has not begun); its start sees kill_reason after it
    elif cell.task is None:
        cell.start_task()  # a dormant actor: its task runs only to terminate
    elif cell.entered:
        cell.task.cancel()
    # else: the task has not run yet; run() sees kill_reason first thing


def kill_brutally(cell: Cell, reason: ExitReason) -> None:
    """Like :meth:`kill`, but ``on_stop`` does not run (a supervisor's ``brutal_kill``)."""
    if cell.state == DEAD or cell.kill_reason is not None:
        return
    cell.brutal = True
    if cell.stop_reason is None:  # a handler that swallows the kill ends the loop then
        cell.stop_reason = reason
        cell.attention = True
    cell.kill(reason)


def request_stop(cell: Cell, reason: ExitReason) -> None:
    """Stop after the current handler; wakes a parked actor."""
    if cell.state >= STOPPING or cell.stop_reason is not None:
        return
    cell.stop_reason = reason
    cell.attention = True
    if cell.parked:
        cell.wake()


def done_future(cell: Cell) -> asyncio.Future[ExitReason]:
    """A future resolved with the exit reason when this incarnation is released."""
    done = cell.done
    if done is None:
        done = cell.done = cell.loop.create_future()
        if cell.state == DEAD:
            done.set_result(cell.exit_reason if cell.exit_reason is not None else "normal")
    return done


def _reason_text(reason: ExitReason) -> str:
    return reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"

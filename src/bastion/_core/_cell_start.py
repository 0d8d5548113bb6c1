"""Starting an actor: ``on_start`` runs in the spawner's task, in the actor's own context.

``spawn`` returns once ``on_start`` has finished, so the spawner waits for it anyway;
running it right there costs what a function call costs. No task is created, nothing
is scheduled and the loop does not go round: a spawn of an actor with an ``on_start``
that does not wait costs about what a plain spawn costs (an actor gets its task with
its first message, as a plain one does). What ``on_start`` sees is the actor's:

* its own ``contextvars`` context, a copy of the spawner's: what ``on_start`` sets stays
  with the actor (its task later runs in that context) and never leaks to the spawner;
* ``cell.task`` is the running task while ``on_start`` runs, so the actor's own-task
  checks hold (``continue_with`` works, a call to itself is refused at once).

An ``on_start`` that waits is driven step by step by :class:`Starting` (each step in
the actor's context), under the start timeout, armed only once it suspends (its first
step runs directly: most ``on_start`` methods finish without waiting). A kill
(or the timeout, which is a kill with :class:`StartTimeout`) reaches it as a
``CancelledError`` at the point where it waits, as in a task of its own: while it is
suspended the spawner's task is cancelled (and uncancelled once the kill is
delivered: the spawner never sees it); while it runs, the cancellation is thrown in
at its next suspension. If it swallows the kill and waits again, it is closed at the
start timeout (or one ``call_timeout`` after the timeout's own kill): the spawn's wait
stays bounded. A failed start releases the cell and raises :class:`StartFailed` in the
spawner; a cancelled spawner fails the start and sees its ``CancelledError``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import types
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any

from bastion._core._clock import current_task
from bastion._core._envelope import RUNNING
from bastion._core._errors import ActorNotAlive, CallTimeout, StartFailed
from bastion._core._messages import ExitReason

if TYPE_CHECKING:
    from bastion._core._cell import Cell

__all__ = ["StartTimeout", "Starting", "start"]

_log = logging.getLogger("bastion.actor")
_COROUTINE = types.CoroutineType
#: What ``Starting`` drives: ``on_start``'s coroutine itself, or another awaitable's iterator.
Steps = Generator[Any, Any, Any] | Coroutine[Any, Any, Any]


class StartTimeout(CallTimeout):
    """``on_start`` ran past the start timeout (told apart from a CallTimeout it raised)."""


async def start(cell: Cell, timeout: float) -> None:
    """Run ``cell``'s ``on_start`` in the running task; ``StartFailed`` if it fails.

    On success the actor runs: dormant until its first message, or with its task
    started if messages (or a stop) arrived meanwhile. A cancelled spawner fails the
    start and sees its ``CancelledError``.
    """
    context = cell.context = contextvars.copy_context()
    task = current_task(cell.loop)
    assert task is not None  # spawn is awaited, so it runs in a task
    cell.task = task  # on_start is the actor's own code (Runtime._in_actor)
    starting = None
    failure: BaseException | None = None
    try:
        result = context.run(cell.actor.on_start)
        if result is not None:  # an awaitable: its first step runs here, like a call
            # (a coroutine is stepped as it is: no ``__await__`` wrapper per spawn)
            steps: Steps = result if type(result) is _COROUTINE else result.__await__()
            try:
                yielded = context.run(steps.send, None)
            except StopIteration:
                pass  # finished without waiting: nothing is timed, nothing to drive
            else:
                starting = cell.starting = Starting(cell, task, context, timeout)
                await starting.run(steps, yielded)
    except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 -- raised below, as StartFailed
        failure = exc
    if starting is not None and starting.uncancel_own():  # the spawner was cancelled
        _fail(cell, cell.kill_reason if cell.kill_reason is not None else "killed")
        raise asyncio.CancelledError
    killed = cell.kill_reason
    if failure is None and killed is None:  # started (inlined: once per spawn)
        cell.task = None
        cell.starting = None
        cell.state = RUNNING
        if cell.queue or cell.stop_reason is not None:
            cell.start_task()  # messages (or a stop) came while on_start ran
            return
        cell.parked = True  # dormant: its task comes with its first message
        cell.limit = 0  # (so the first send takes the slow path, which wakes it)
        runtime = cell.runtime
        runtime._busy -= 1  # inlined Runtime._park
        if runtime._busy == 0 and runtime._idle_waiters:
            runtime._notify_idle()
        return
    if isinstance(failure, Exception):
        _fail(cell, failure)
        what = f"raised {failure!r}" if killed is None else f"was cut short by kill({killed!r})"
        raise StartFailed(f"{cell!r}: on_start {what}") from failure
    if killed is None:  # on_start raised CancelledError of its own accord
        _fail(cell, "killed")
        raise StartFailed(f"{cell!r}: on_start raised CancelledError") from _stopped(cell, "killed")
    _fail(cell, killed)  # killed (or timed out): it ended, or swallowed the kill and returned
    raise _start_failed(cell, killed)


def _fail(cell: Cell, reason: ExitReason) -> None:
    cell.task = None
    cell.starting = None
    cell.release(reason)


def _start_failed(cell: Cell, reason: ExitReason) -> StartFailed:
    """What the spawner of a killed start gets; the kill's reason is the cause."""
    if isinstance(reason, StartTimeout):
        error = StartFailed(f"{cell!r}: {reason}")
        error.__cause__ = reason
        return error
    cause: BaseException = reason if isinstance(reason, Exception) else _stopped(cell, reason)
    error = StartFailed(f"{cell!r}: on_start was cut short by kill({reason!r})")
    error.__cause__ = cause
    return error


def _stopped(cell: Cell, reason: ExitReason) -> ActorNotAlive:
    text = reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"
    error = ActorNotAlive(f"{cell!r} stopped during on_start ({text})")
    if isinstance(reason, BaseException):
        error.__cause__ = reason
    return error


class Starting:
    """Drives an ``on_start`` awaitable in the spawner's task (``Cell.starting``).

    Each step runs in the actor's context; a kill reaches it as a ``CancelledError``
    where it waits (:meth:`interrupt`); the start timeout is armed once it suspends.
    """

    __slots__ = (
        "abandon",
        "base",
        "cancels",
        "cell",
        "context",
        "handle",
        "pending",
        "suspended",
        "task",
        "timeout",
    )

    def __init__(
        self, cell: Cell, task: asyncio.Task[Any], context: contextvars.Context, timeout: float
    ) -> None:
        self.cell = cell
        self.task = task
        self.context = context
        self.timeout = timeout
        self.base = task.cancelling()  # cancellations the spawner had before (not ours)
        self.suspended = False  # waiting at a yield: a kill cancels the task
        # A kill arrived while on_start ran (its first step included): thrown in where it waits.
        self.pending = cell.kill_reason is not None
        self.cancels = 0  # cancellations of the spawner's task that were kills (taken back)
        self.abandon = False  # the deadline passed after a kill: close on_start
        self.handle: asyncio.TimerHandle | None = None

    def interrupt(self) -> None:
        """Deliver the cell's kill to ``on_start`` (``Cell.kill`` while it starts)."""
        if self.suspended:
            self.cancels += 1
            self.task.cancel()
        else:
            self.pending = True

    def uncancel_own(self) -> bool:
        """Take back the kills' cancellations; True if a foreign one is left pending."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        while self.cancels:
            self.cancels -= 1
            self.task.uncancel()
        return self.task.cancelling() > self.base

    def expire(self) -> None:
        """The start timeout's timer: kill; after a kill, abandon ``on_start``."""
        cell = self.cell
        if cell.kill_reason is None:
            self.handle = cell.loop.call_later(cell.runtime.call_timeout, self.expire)
            cell.kill(StartTimeout(f"on_start did not finish within {self.timeout}s"))
            return
        self.handle = None
        self.abandon = True
        if self.suspended:
            self.cancels += 1
            self.task.cancel()

    @types.coroutine
    def run(self, steps: Steps, yielded: Any) -> Generator[Any, Any, None]:
        """Drive ``on_start``'s awaitable, whose first step yielded ``yielded``, to its
        end: pass what it yields to the task, and what the task sends or throws
        (cancellation) back into it, each step in the actor's context."""
        step = self.context.run
        loop = self.cell.loop
        self.handle = loop.call_at(loop.time() + self.timeout, self.expire)
        while True:
            if self.pending:  # killed while it ran: the cancellation lands where it waits
                self.pending = False
                method: Any = steps.throw
                value: Any = asyncio.CancelledError()
            else:
                self.suspended = True
                try:
                    method, value = steps.send, (yield yielded)
                except GeneratorExit:
                    steps.close()
                    raise
                except BaseException as exc:
                    if self.abandon:
                        self._close(steps)
                        raise
                    method, value = steps.throw, exc
                finally:
                    self.suspended = False
            try:
                yielded = step(method, value)
            except StopIteration:
                return

    def _close(self, steps: Steps) -> None:
        try:
            steps.close()
        except RuntimeError:  # it ignored GeneratorExit too: nothing more can be done
            _log.error("%r: on_start ignored its kill and was abandoned", self.cell)

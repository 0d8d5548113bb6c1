"""``ActorRef``: the only handle users hold on an actor."""

from __future__ import annotations

import asyncio
import enum
from typing import TYPE_CHECKING, Any, Final, final

from bastion._core import _carry
from bastion._core._clock import current_task as _current_task
from bastion._core._durations import check_timeout
from bastion._core._envelope import CALL, CAST
from bastion._core._errors import (
    ActorError,
    ActorNotAlive,
    CallTimeout,
    MailboxFull,
    NoSuchActor,
)
from bastion._core._histogram import BATCH as _BATCH
from bastion._core._meters import cohort_get as _cohort_get
from bastion._core._sealed import NoPublicConstructor

if TYPE_CHECKING:
    from collections.abc import Callable

    from bastion._core._actor import Actor
    from bastion._core._cell import Cell
    from bastion._core._stats import ActorStatistics

__all__ = ["DEFAULT", "ActorRef", "UseDefault", "actor_state", "check_timeout", "incarnation_ref"]


class UseDefault(enum.Enum):
    """The type of :data:`DEFAULT`: "not given, use the runtime's setting".

    ``None`` cannot mean that, because ``timeout=None`` is a mistake Bastion refuses
    (every wait is bounded). A one-member enum is a sentinel mypy understands:
    ``timeout: float | UseDefault = DEFAULT`` narrows to ``float`` after
    ``if timeout is DEFAULT: timeout = runtime.call_timeout`` (httpx's ``UseClientDefault``).
    """

    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


#: Sentinel: use the runtime's ``call_timeout`` (or the setting named in the docstring).
DEFAULT: Final = UseDefault.DEFAULT


def _expire_call(reply: asyncio.Future[Any], cell: Cell, timeout: float) -> None:
    """Deadline callback of a call: answer the caller with ``CallTimeout``."""
    if reply.done():
        return
    reply.set_exception(CallTimeout(f"call to {cell!r} timed out after {timeout}s"))
    cell.runtime._note_call_timeout(cell, timeout)


@final
class ActorRef(metaclass=NoPublicConstructor):
    """A reference to an actor: ``call``, ``cast``, ``cast_nowait`` and ``stop``.

    A ref from ``spawn`` points at one incarnation. A ref from ``runtime.ref(name)`` or
    ``supervisor.child(id)`` resolves on every use, so it follows restarts. Refs come
    from the runtime only; the actor behind one is never handed out (read it through
    ``statistics()``, or ``bastion.testing.actor_state`` in tests).
    """

    __slots__ = ("_cell", "_label", "_resolver", "_scope")
    _obtained_from = "refs come from rt.spawn(), rt.ref(name), rt.whereis() or sup.child(id)"

    def __init__(
        self,
        cell: Cell | None,
        resolver: Callable[[], Cell | None] | None = None,
        label: str | None = None,
        scope: object = None,
    ) -> None:
        self._cell = cell
        self._resolver = resolver
        self._label = label
        self._scope = scope  # what a resolving ref looks its label up in (for equality)

    # -- resolution ------------------------------------------------------------------
    def _resolve_or_none(self) -> Cell | None:
        """The cell this ref points at now, or None (kernel interface)."""
        if self._cell is not None:
            return self._cell
        assert self._resolver is not None
        return self._resolver()

    def _resolve(self) -> Cell:
        """The live-or-dead cell this ref points at (kernel interface); NoSuchActor if none."""
        cell = self._cell
        if cell is None:
            assert self._resolver is not None
            cell = self._resolver()
            if cell is None:
                raise NoSuchActor(f"no actor is registered as {self._label!r}")
        return cell

    @property
    def name(self) -> str | None:
        """The registered name (or the label this ref resolves)."""
        if self._cell is not None:
            return self._cell.name
        return self._label

    @property
    def is_alive(self) -> bool:
        """True if the actor this ref points at now accepts messages."""
        cell = self._resolve_or_none()
        return cell is not None and cell.alive

    # -- messaging -------------------------------------------------------------------
    async def call(self, message: Any, *, timeout: float | UseDefault = DEFAULT) -> Any:
        """Send ``message`` to ``handle_call`` and wait for the reply.

        ``timeout`` defaults to the runtime's ``call_timeout``; ``None``, ``inf``, zero
        or negative raise ``ValueError`` here. Raises :class:`CallTimeout` at the
        deadline, :class:`ActorCrashed` if the handler crashed, :class:`ActorNotAlive`
        if the actor is (or becomes) unavailable, and re-raises expected errors.
        """
        if timeout is not DEFAULT:
            timeout = check_timeout(timeout)
        cell = self._cell
        if cell is None:
            cell = self._resolve()
        runtime = cell.runtime
        if timeout is DEFAULT:
            timeout = runtime.call_timeout
        loop = cell.loop
        if cell.task is not None and cell.task is _current_task(loop):  # Runtime._in_actor
            raise ActorError(  # its handler, or an on_start running in its task
                f"{cell!r} called from its own task: it would wait for its own reply"
            )
        now = runtime._now  # loop.time, as a C function where it can be
        reply = loop.create_future()
        started = now()
        deadline = started + timeout
        envelope = (CALL, message, reply, _carry.capture() if _carry.registered else None)
        meter = cell.meter
        try:
            if not cell.try_post(envelope):
                await cell.post(envelope, deadline, CallTimeout)
            handle = loop.call_at(deadline, _expire_call, reply, cell, timeout)
            try:
                result = await reply
            finally:
                handle.cancel()
        except BaseException as exc:
            if meter is not None:
                meter.current().call_failed(now() - started, exc)
            raise
        if meter is not None:  # inlined: the cost of metrics on every call
            if _cohort_get():
                meter = meter.current()
            durations = meter.durations  # ok = recorded - failed; record() inlined:
            pending = durations._pending
            pending.append(now() - started)
            if len(pending) >= _BATCH:
                durations.fold()
        return result

    async def cast(self, message: Any, *, timeout: float | UseDefault = DEFAULT) -> None:
        """Send ``message`` to ``handle_cast``; waits for room if the mailbox is full.

        Raises :class:`MailboxFull` if there is still no room after ``timeout``
        (default: the runtime's ``call_timeout``), :class:`ActorNotAlive` if the actor
        is not running.
        """
        if timeout is not DEFAULT:
            timeout = check_timeout(timeout)  # on entry: a bad timeout fails on an idle system too
        cell = self._cell
        if cell is None:
            cell = self._resolve()
        if cell.try_post((CAST, message, None, _carry.capture() if _carry.registered else None)):
            return
        if timeout is DEFAULT:
            timeout = cell.runtime.call_timeout
        envelope = (CAST, message, None, _carry.capture() if _carry.registered else None)
        await cell.post(envelope, cell.loop.time() + timeout, MailboxFull)

    def cast_nowait(self, message: Any) -> None:
        """Send ``message`` to ``handle_cast`` or raise :class:`MailboxFull` at once."""
        cell = self._cell
        if cell is None:
            cell = self._resolve()
        carried = _carry.capture() if _carry.registered else None
        if not cell.try_post((CAST, message, None, carried)):
            cell.runtime._note_mailbox_full(cell)
            raise MailboxFull(f"mailbox of {cell!r} is full ({cell.capacity} messages)")

    async def stop(self, *, timeout: float | UseDefault = DEFAULT) -> None:
        """Stop the actor: finish the current message, run ``on_stop``, release it.

        If it has not stopped within ``timeout`` it is killed. Stopping a dead actor is
        a no-op.
        """
        if timeout is not DEFAULT:
            timeout = check_timeout(timeout)
        cell = self._resolve_or_none()
        if cell is None or cell.exit_reason is not None:
            return
        runtime = cell.runtime
        if timeout is DEFAULT:
            timeout = runtime.call_timeout
        await runtime._stop_cell(cell, "normal", timeout)

    def kill(self, reason: BaseException | str = "killed") -> None:
        """End the actor now, even mid-handler, as an abnormal exit (Erlang's ``exit/2``).

        Its links, monitors and supervisor see ``reason``; pending callers are answered
        at once. ``on_stop`` still runs, unless the kill lands during ``on_stop``: then it
        is cut short. A kill during ``on_start`` fails the start (``spawn`` raises
        ``StartFailed``). Killing a dead actor is a no-op. Use it for fault injection
        and for actors that ignore ``stop``.
        """
        if not isinstance(reason, BaseException | str):
            raise TypeError(f"kill() takes an exception or a str reason, got {reason!r}")
        if reason in ("normal", "shutdown"):
            raise ValueError("kill() is an abnormal exit; use stop() for a normal one")
        cell = self._resolve_or_none()
        if cell is not None:
            cell.kill(reason)

    def statistics(self) -> ActorStatistics:
        """A snapshot of the actor this ref points at now."""
        return self._resolve().statistics()

    async def wait_stopped(self, *, timeout: float | UseDefault = DEFAULT) -> Any:
        """Wait until the actor stops; returns its exit reason. :class:`Timeout` at expiry
        (a wait, not a call: no ``CallTimeout``)."""
        if timeout is not DEFAULT:
            timeout = check_timeout(timeout)
        cell = self._resolve()
        runtime = cell.runtime
        if timeout is DEFAULT:
            timeout = runtime.call_timeout
        return await runtime._wait_future(cell.done_future(), timeout, f"{cell!r} to stop")

    # -- identity ----------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActorRef):
            return NotImplemented
        if self._cell is not None or other._cell is not None:
            return self._cell is other._cell and self._label == other._label
        return self._label == other._label and self._scope == other._scope

    def __hash__(self) -> int:
        return hash((id(self._cell), self._label))

    def __repr__(self) -> str:
        if self._cell is not None:
            state = "alive" if self._cell.alive else "dead"
            return f"<ActorRef {self._cell!r} {state}>"
        return f"<ActorRef name={self._label!r}>"


def actor_state(ref: ActorRef) -> Actor:
    """The actor object ``ref`` points at now (kernel interface for ``bastion.testing``).

    Raises :class:`NoSuchActor` if the ref resolves to nothing, :class:`ActorNotAlive`
    if the actor is not running.
    """
    cell = ref._resolve()
    if not cell.alive:
        raise ActorNotAlive(f"{ref!r} is not alive")
    return cell.actor


def incarnation_ref(cell: Cell) -> ActorRef:
    """The ref of one incarnation (kernel interface), built without the metaclass call.

    Every spawn makes one, so it skips ``ActorRef._create``'s argument packing.
    """
    ref: ActorRef = object.__new__(ActorRef)
    ref._cell = cell
    ref._resolver = None
    ref._label = None
    ref._scope = None
    return ref

"""Deferred replies: ``NoReply`` and the ``ReplyHandle`` that answers a call later.

OTP's ``{noreply, State}`` plus ``gen_server:reply/2``. A ``handle_call`` that takes
:meth:`Actor.reply_handle` and returns :data:`NoReply` frees its mailbox at once; the
call is answered whenever (and from wherever) ``handle.reply(value)`` or
``handle.fail(error)`` runs. The caller's deadline still applies: an answer that
arrives after it is dropped and counted as a late reply, like any other.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final, final

from bastion._core._errors import ActorCrashed, ActorError, ActorNotAlive
from bastion._core._sealed import NoPublicConstructor

if TYPE_CHECKING:
    from bastion._core._cell import Cell
    from bastion._core._messages import ExitReason

__all__ = ["DeferredReplies", "NoReply", "ReplyHandle", "fail_deferred"]


@final
class _NoReplyType:
    """The type of :data:`NoReply`; it has exactly one instance."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "bastion.NoReply"


#: Returned by ``handle_call`` after taking ``self.reply_handle()``: "no reply yet".
#: (A marker value, like ``NotImplemented`` for binary operators.)
NoReply: Final = _NoReplyType()


@final
class ReplyHandle(metaclass=NoPublicConstructor):
    """The promise to answer one call later; from :meth:`Actor.reply_handle`.

    Answer exactly once, with :meth:`reply` or :meth:`fail`, from the actor itself or
    from any code on the same event loop (another actor it handed the handle to, for
    example). A second answer, or one from another thread, raises :class:`ActorError`.
    Both return ``False`` when the caller no longer waits (its deadline passed, or the
    actor stopped and the caller was told): the answer is then dropped and counted in
    ``late_replies``.
    """

    __slots__ = ("_answered", "_cell", "_future")
    _obtained_from = "an actor takes one with self.reply_handle() in handle_call"

    def __init__(self, cell: Cell, future: asyncio.Future[Any]) -> None:
        self._cell = cell
        self._future = future
        self._answered = False

    @property
    def pending(self) -> bool:
        """True until answered, and while the caller still waits."""
        return not self._answered and not self._future.done()

    def reply(self, value: Any) -> bool:
        """Answer the call with ``value``. Returns False if the caller no longer waits."""
        if self._claim():
            self._future.set_result(value)
            return True
        return False

    def fail(self, error: Exception) -> bool:
        """Make the call raise ``error``. Returns False if the caller no longer waits."""
        if not isinstance(error, Exception):
            raise TypeError(f"fail() takes an Exception instance, got {error!r}")
        if self._claim():
            self._future.set_exception(error)
            return True
        return False

    def _claim(self) -> bool:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not self._future.get_loop():
            raise ActorError(
                f"{self!r} must be answered on its runtime's event loop, not from another "
                "thread (hand the answer back with loop.call_soon_threadsafe)"
            )
        if self._answered:
            raise ActorError(f"{self!r} was already answered; a call gets one reply")
        self._answered = True
        deferred = self._cell.deferred
        if deferred is not None:
            deferred.discard(self._future)  # answered: the stopping actor need not fail it
        if self._future.done():
            self._cell.count_late_reply()
            return False
        return True

    def __repr__(self) -> str:
        state = "pending" if self.pending else "answered" if self._answered else "abandoned"
        return f"<ReplyHandle of a call to {self._cell!r} {state}>"


class DeferredReplies(set[asyncio.Future[Any]]):
    """The calls of one actor answered later (``reply_handle()``), failed if it stops.

    A reply leaves the set when its handle answers (no done-callback per reply, which
    would cost a turn of the loop each). A call whose caller stopped waiting and whose
    handle is never answered stays until the next sweep: one runs whenever the set has
    doubled since the last, so it holds at most about twice the calls still pending.
    """

    __slots__ = ("_sweep_at",)

    def __init__(self) -> None:
        super().__init__()
        self._sweep_at = _FIRST_SWEEP

    def add_pending(self, reply: asyncio.Future[Any]) -> None:
        """Add the future of a call whose answer is deferred."""
        if len(self) >= self._sweep_at:
            self.difference_update([f for f in self if f.done()])
            self._sweep_at = max(_FIRST_SWEEP, 2 * len(self))
        self.add(reply)


_FIRST_SWEEP = 64


def fail_deferred(cell: Cell, pending: asyncio.Future[Any], reason: ExitReason) -> None:
    """Answer a deferred call whose actor stopped: ActorCrashed for a crash, else ActorNotAlive."""
    if pending.done():
        return
    error: ActorError
    if isinstance(reason, BaseException):
        error = ActorCrashed(f"{cell!r} crashed before replying: {reason!r}")
        error.__cause__ = reason
    else:
        error = ActorNotAlive(f"{cell!r} stopped before replying ({reason!r})")
    pending.set_exception(error)

"""An asyncio event loop whose clock jumps to the next deadline whenever the loop is idle.

The kernel's clock *is* its event loop's clock (``loop.time()``), so running the runtime
on :class:`VirtualTimeLoop` puts every timer, call deadline, restart window, backoff and
health window into virtual time, with no monkeypatching.

How time moves. The loop asks its selector to wait ``timeout`` seconds only when it has
nothing ready to run. At that moment the loop is idle, and :class:`_IdleSelector`:

* polls real I/O without blocking; anything ready is returned, time stands still;
* wakes whoever waits for the loop to become idle (``settle()``,
  ``wait_for``) instead of moving time;
* while work in a thread is outstanding (``run_in_executor``, ``asyncio.to_thread``),
  waits for it for real and lets virtual time flow at the real rate, so a timeout
  around blocking work still means what it says;
* while sockets other than the loop's own wake-up pipe are registered, waits up to
  ``io_grace`` real seconds for them before jumping;
* otherwise jumps virtual time forward by ``timeout``: the loop then runs the due timers.

When nothing at all is scheduled (``timeout is None``), no thread is working and no
socket is registered, nothing can ever wake the loop: after ``deadlock_grace`` real
seconds (for threads the loop does not know about) the armed handler is told, with a
dump, and the test fails with :class:`~bastion.testing.DeadlockError` instead of hanging.

The same loop runs on the real clock with ``virtual=False`` (``BASTION_REAL_TIME=1``),
keeping idle detection, deadlock detection and the real-time cap, so the same tests run
on both clocks for A/B comparison.
"""

from __future__ import annotations

import asyncio
import math
import selectors
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any, TypeVar, TypeVarTuple

from bastion.testing._leaks import TimerTracker

__all__ = ["StuckHandler", "VirtualTimeLoop"]

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")
_NS = 1_000_000_000
#: A real wait never blocks longer than this, so the real-time cap is checked often.
_MAX_REAL_WAIT = 0.25

StuckHandler = Callable[[str], None]
"""Called once with ``"deadlock"`` or ``"time_limit"`` when the armed run is stuck."""


class _IdleSelector(selectors.BaseSelector):
    """Wraps the real selector; decides what "waiting" means (see the module docstring)."""

    def __init__(self, loop_state: _LoopState) -> None:
        self._real = selectors.DefaultSelector()
        self._state = loop_state

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        state = self._state
        if state.past_time_limit() or (timeout is not None and timeout <= 0):
            return self._real.select(0)
        ready = self._real.select(0)
        if ready or state.wake_idle_waiters():
            return ready
        if timeout is None:
            return self._wait_without_timers()
        if not state.virtual:
            return self._real_wait(timeout)
        if state.executor_jobs:
            return self._flow_real_time(timeout)
        if state.grace > 0 and self._foreign_fds():
            ready = self._flow_real_time(min(timeout, state.grace))
            if ready:
                return ready
            timeout -= min(timeout, state.grace)
        state.advance(timeout)
        return []

    def _foreign_fds(self) -> bool:
        return len(self._real.get_map()) > self._state.own_fds

    def _real_wait(self, timeout: float) -> list[tuple[selectors.SelectorKey, int]]:
        return self._real.select(min(timeout, _MAX_REAL_WAIT))

    def _flow_real_time(self, timeout: float) -> list[tuple[selectors.SelectorKey, int]]:
        start = time.monotonic()
        ready = self._real_wait(timeout)
        self._state.advance(min(timeout, time.monotonic() - start))
        return ready

    def _wait_without_timers(self) -> list[tuple[selectors.SelectorKey, int]]:
        state = self._state
        if state.executor_jobs or self._foreign_fds() or not state.armed:
            return self._real_wait(_MAX_REAL_WAIT)
        ready = self._real.select(state.deadlock_grace)
        if not ready:
            state.report_stuck("deadlock")
        return ready


class _LoopState:
    """Virtual time, idle waiters, outstanding thread work and the armed stuck handler."""

    def __init__(self, *, virtual: bool, io_grace: float, deadlock_grace: float) -> None:
        self.virtual = virtual
        self.grace = io_grace
        self.deadlock_grace = deadlock_grace
        self.now_ns = 0
        self.own_fds = 0
        self.executor_jobs = 0
        self.advanced_ns = 0
        self.idle_waiters: list[tuple[int | None, asyncio.Future[None]]] = []
        self.handler: StuckHandler | None = None
        self.real_deadline = math.inf

    @property
    def armed(self) -> bool:
        return self.handler is not None

    def advance(self, seconds: float) -> None:
        step = max(1, math.ceil(seconds * _NS))
        self.now_ns += step
        self.advanced_ns += step

    def wake_idle_waiters(self) -> bool:
        """Resolve waiters whose condition "idle, and time moved past ``after``" holds."""
        if not self.idle_waiters:
            return False
        keep: list[tuple[int | None, asyncio.Future[None]]] = []
        woke = False
        for after, fut in self.idle_waiters:
            if fut.done():
                continue
            if after is None or after < self.now_ns or not self.virtual:
                fut.set_result(None)
                woke = True
            else:
                keep.append((after, fut))
        self.idle_waiters = keep
        return woke

    def past_time_limit(self) -> bool:
        if self.handler is None or time.monotonic() < self.real_deadline:
            return False
        self.report_stuck("time_limit")
        return True

    def report_stuck(self, kind: str) -> None:
        handler, self.handler = self.handler, None
        self.real_deadline = math.inf
        if handler is not None:
            handler(kind)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop with a virtual (or, if ``virtual=False``, real) clock.

    ``io_grace``: real seconds to wait for registered sockets before jumping time.
    ``deadlock_grace``: real seconds to wait for unknown threads before calling it a
    deadlock. Both only matter on the slow paths; idle jumps cost no real time.
    """

    def __init__(
        self, *, virtual: bool = True, io_grace: float = 0.05, deadlock_grace: float = 0.2
    ) -> None:
        self._vstate = _LoopState(virtual=virtual, io_grace=io_grace, deadlock_grace=deadlock_grace)
        selector = _IdleSelector(self._vstate)
        super().__init__(selector)
        self._vstate.own_fds = len(selector.get_map())
        self._real_start = time.monotonic()
        #: Loop timers made while ``timers.enabled``; the plugin lists the ones left over.
        self.timers = TimerTracker()

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        """``call_at``, remembered by :attr:`timers` for the leak check."""
        handle = super().call_at(when, callback, *args, context=context)
        self.timers.add(handle)
        return handle

    @property
    def virtual(self) -> bool:
        """Whether this loop's clock is virtual."""
        return self._vstate.virtual

    def time(self) -> float:
        """The loop's clock: virtual seconds since the loop was made, or real monotonic."""
        if self._vstate.virtual:
            return self._vstate.now_ns / _NS
        return time.monotonic()

    @property
    def virtual_seconds_advanced(self) -> float:
        """Virtual seconds jumped over or flowed so far (0 on a real clock)."""
        return self._vstate.advanced_ns / _NS

    @property
    def real_seconds_elapsed(self) -> float:
        """Real seconds since the loop was made."""
        return time.monotonic() - self._real_start

    @property
    def executor_jobs(self) -> int:
        """Jobs submitted with ``run_in_executor`` that have not finished yet."""
        return self._vstate.executor_jobs

    def run_in_executor(
        self, executor: Executor | None, func: Callable[[*_Ts], _T], *args: *_Ts
    ) -> asyncio.Future[_T]:
        """``run_in_executor``, counted: virtual time flows at real speed while it runs."""
        fut = super().run_in_executor(executor, func, *args)
        self._vstate.executor_jobs += 1
        fut.add_done_callback(self._executor_job_done)
        return fut

    def _executor_job_done(self, _fut: asyncio.Future[Any]) -> None:
        self._vstate.executor_jobs -= 1

    def real_work_started(self) -> None:
        """Declare work outside the loop (another process, a device) that will wake it.

        Until the matching :meth:`real_work_finished`, virtual time flows at the real
        rate, as for ``run_in_executor`` jobs, so deadlines are not jumped past while a
        child process is still answering. This is the ``RealWork`` protocol
        (``bastion._core._real_work``): library code (the SQLite store's writer process)
        uses it without importing ``bastion.testing``.
        """
        self._vstate.executor_jobs += 1

    def real_work_finished(self) -> None:
        """End one :meth:`real_work_started` declaration."""
        self._vstate.executor_jobs = max(0, self._vstate.executor_jobs - 1)

    def idle(self, *, after: float | None = None) -> asyncio.Future[None]:
        """A future resolved when the loop is next idle (everything ready has run).

        With ``after`` (virtual clock only), resolved at the first idle moment later
        than ``after``: the loop first lets time move to the next deadline.
        """
        fut: asyncio.Future[None] = self.create_future()
        mark = None if after is None else round(after * _NS)
        self._vstate.idle_waiters.append((mark, fut))
        return fut

    def arm(self, handler: StuckHandler, *, real_time_limit: float) -> None:
        """Call ``handler`` once on a deadlock or after ``real_time_limit`` real seconds."""
        self._vstate.handler = handler
        self._vstate.real_deadline = time.monotonic() + real_time_limit

    def disarm(self) -> None:
        """Stop watching for deadlocks and the real-time cap."""
        self._vstate.handler = None
        self._vstate.real_deadline = math.inf

"""The hot path: pick a scenario, run one iteration under its deadline, record it.

An iteration's coroutine takes its first step inline (as Python 3.12's eager tasks
do): a scenario that finishes without suspending costs no timer at all. Only one that
suspends is resumed under ``asyncio.timeout_at(start + timeout)``.

Users (closed model) and in-flight slots (open model) are loops over
:meth:`Engine.iterate`; they run as supervised tasks owned by the load test's driver
actor (see ``_driver.py``), never as bare tasks.
"""

from __future__ import annotations

import asyncio
import bisect
import random
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from bastion.loadtest._errors import IterationTimeout
from bastion.loadtest._models import ArrivalSchedule
from bastion.loadtest._recorder import Recorder
from bastion.loadtest._scenario import LoadTest, User

__all__ = ["Arrivals", "Engine", "Pending", "closed_user", "open_slot"]

YIELD_EVERY = 32  # iterations that never suspended before a user lets others run


class _Resumed:
    """Awaits the rest of a coroutine whose first step already ran (``yield from``, by hand)."""

    __slots__ = ("coro", "step")

    def __init__(self, coro: Coroutine[Any, Any, object], step: object) -> None:
        self.coro = coro
        self.step = step

    def __await__(self) -> Generator[Any, Any, object]:
        coro, step = self.coro, self.step
        while True:
            try:
                sent = yield step
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 -- forwarded into the coroutine, which re-raises or handles it
                try:
                    step = coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    step = coro.send(sent)
                except StopIteration as done:
                    return done.value


class Pending:
    """An iteration that suspended after its first step: the coroutine and what it awaits."""

    __slots__ = ("coro", "step")

    def __init__(self, coro: Any, step: object) -> None:
        self.coro = coro
        self.step = step


class Engine:
    """Shared state of one load test in one process: scenarios, windows, the recorder."""

    def __init__(
        self,
        test: LoadTest,
        recorder: Recorder,
        *,
        now: Callable[[], float],
        timeout: float,
        iterations: int | None,
        seed: int | None,
    ) -> None:
        self.fns = [s.fn for s in test.scenarios]
        total = sum(s.weight for s in test.scenarios)
        running = 0.0
        self.cumulative: list[float] = []
        for scenario in test.scenarios:
            running += scenario.weight
            self.cumulative.append(running / total)
        self.random = random.Random(seed).random
        self.failure = test.failure
        self.recorder = recorder
        self.now = now
        self.timeout = timeout
        self.remaining = iterations  # None: bounded by time
        self.warm_end = 0.0
        self.end = float("inf")  # no iteration intended at or after this starts
        self.stopping = False
        self.in_flight = 0
        self.on_exhausted: Callable[[], object] = lambda: None
        self.drop_casts = 0.0  # chaos mode: fraction of cast_actor casts dropped
        self.chaos_log: Any = None

    def drop_cast(self, target: str) -> bool:
        """Chaos mode: whether to drop this cast (logged when dropped)."""
        if self.drop_casts and self.random() < self.drop_casts:
            self.chaos_log.add("drop_cast", target)
            return True
        return False

    def pick(self) -> int:
        """A scenario index, drawn by weight."""
        if len(self.fns) == 1:
            return 0
        return bisect.bisect_right(self.cumulative, self.random())

    def admit(self, intended: float) -> bool:
        """Whether an iteration intended to start at ``intended`` may run."""
        if self.stopping or intended >= self.end:
            return False
        if self.remaining is not None and intended >= self.warm_end:
            if self.remaining <= 0:
                return False
            self.remaining -= 1
            if self.remaining == 0:
                self.on_exhausted()
        return True

    def begin(self, user: User, index: int, intended: float) -> Pending | None:
        """Run scenario ``index``'s first step; latency counts from ``intended``.

        An iteration that finished without suspending is recorded here and ``None``
        returned (no coroutine frame, no timer: the fast path); otherwise the caller
        awaits :meth:`finish` with what is returned.
        """
        try:
            coro: Any = self.fns[index](user)
            send = coro.send
        except AttributeError:  # an awaitable that is not a coroutine
            return Pending(coro, None)
        except Exception as exc:  # noqa: BLE001 -- a scenario's failure is the measurement, counted by category
            self._record(index, intended, exc)
            return None
        try:
            step = send(None)
        except StopIteration as done:
            value = done.value
            self._record(index, intended, None if value is None else self.failure(value))
            return None
        except Exception as exc:  # noqa: BLE001 -- a scenario's failure is the measurement, counted by category
            self._record(index, intended, exc)
            return None
        return Pending(coro, step)

    async def finish(self, user: User, index: int, intended: float, pending: Pending) -> None:
        """Await the rest of a suspended iteration under its timeout, then record it."""
        self.in_flight += 1
        user.busy = True
        error: BaseException | None = None
        try:
            value = await self._rest(pending)
        except asyncio.CancelledError:
            if self.stopping:
                self.recorder.interrupted += 1
            raise
        except Exception as exc:  # noqa: BLE001 -- a scenario's failure is the measurement, counted by category
            error = exc
        else:
            if value is not None:
                error = self.failure(value)
        finally:
            self.in_flight -= 1
            user.busy = False
        self._record(index, intended, error)

    async def iterate(self, user: User, index: int, intended: float) -> None:
        """One whole iteration (:meth:`begin`, then :meth:`finish` if it suspended)."""
        pending = self.begin(user, index, intended)
        if pending is not None:
            await self.finish(user, index, intended, pending)

    def _record(self, index: int, intended: float, error: BaseException | None) -> None:
        recorder = self.recorder
        if intended < self.warm_end:
            recorder.warmup_iterations += 1
        elif error is None:
            recorder.ok(index, intended, self.now() - intended)
        else:
            recorder.failed(index, intended, error)

    async def _rest(self, pending: Pending) -> object:
        if pending.step is None and not hasattr(pending.coro, "send"):
            awaitable = pending.coro
        else:
            awaitable = _Resumed(pending.coro, pending.step)
        timeout = asyncio.timeout_at(self.now() + self.timeout)
        try:
            async with timeout:
                return await awaitable
        except TimeoutError:
            if timeout.expired():
                raise IterationTimeout(
                    f"iteration ran past its {self.timeout:g} s timeout"
                ) from None
            raise


async def closed_user(engine: Engine, user: User, start_at: float, think: float) -> None:
    """One closed-model user: iterate, think, repeat, until the window closes."""
    now = engine.now
    if start_at > now():
        await asyncio.sleep(start_at - now())
    streak = 0
    while engine.admit(started := now()):
        index = engine.pick()
        pending = engine.begin(user, index, started)
        if pending is not None:
            await engine.finish(user, index, started, pending)
        if think > 0:
            await asyncio.sleep(think)
        else:
            streak += 1
            if streak >= YIELD_EVERY:
                streak = 0
                await asyncio.sleep(0)


class Arrivals:
    """Hands out open-model arrival times, in order, to the in-flight slots."""

    __slots__ = ("next", "origin", "schedule")

    def __init__(self, schedule: ArrivalSchedule, origin: float) -> None:
        self.schedule = schedule
        self.origin = origin
        self.next = 0

    def claim(self) -> float:
        """The intended start of the next arrival (loop time)."""
        k = self.next
        self.next = k + 1
        return self.origin + self.schedule.time_of(k)


async def open_slot(engine: Engine, user: User, arrivals: Arrivals) -> None:
    """One open-model slot: take the next arrival, wait for its time, run it."""
    now = engine.now
    recorder = engine.recorder
    streak = 0
    while engine.admit(intended := arrivals.claim()):
        if intended >= engine.warm_end:
            recorder.offered += 1
        delay = intended - now()
        if delay > 0:
            streak = 0
            await asyncio.sleep(delay)
            if engine.stopping:
                return
        else:
            if -delay > recorder.max_start_lag:
                recorder.max_start_lag = -delay
            streak += 1
            if streak >= YIELD_EVERY:
                streak = 0
                await asyncio.sleep(0)
        index = engine.pick()
        pending = engine.begin(user, index, intended)
        if pending is not None:
            await engine.finish(user, index, intended, pending)

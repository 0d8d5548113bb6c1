"""The hot path: pick a scenario, await one iteration, record it.

An iteration is a plain ``await fn(user)`` (no task, no timer: a scenario that never
suspends costs a coroutine and two clock readings). The per-iteration timeout is kept
by the driver's watchdog (:meth:`Engine.expire`), which cancels the user whose current
iteration has run ``timeout`` seconds, at most 1/8 of ``timeout`` late; the user
recognises its own expiry (``user.expired``) and counts an :class:`IterationTimeout`.

Users (closed model) and in-flight slots (open model) run as supervised tasks owned by
the load test's driver actor (see ``_driver.py``), never as bare tasks.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import random
from collections.abc import Callable, Iterable
from typing import Any

from bastion.loadtest._errors import IterationTimeout
from bastion.loadtest._models import ArrivalSchedule
from bastion.loadtest._recorder import Recorder
from bastion.loadtest._scenario import LoadTest, User

__all__ = ["Arrivals", "Engine", "closed_user", "open_slot"]

# A user whose iterations never suspend lets the others (and the driver's timers) run
# after this many iterations or this many seconds, whichever comes first.
YIELD_EVERY = 256
YIELD_AFTER = 0.002
WATCH_RESOLUTION = 8  # the watchdog looks 8 times per timeout
IDLE = math.inf  # user.started when no iteration runs


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

    def expire(self, users: Iterable[tuple[asyncio.Task[None], User]]) -> None:
        """The watchdog: cancel each user whose iteration has run ``timeout`` seconds."""
        limit = self.now() - self.timeout
        for task, user in users:
            if not user.expired and user.started <= limit:
                user.expired = True
                task.cancel()

    async def iterate(self, user: User, index: int, intended: float) -> None:
        """Run scenario ``index`` once; latency counts from ``intended``."""
        user.started = self.now()
        error: BaseException | None = None
        try:
            value = await self.fns[index](user)
        except asyncio.CancelledError:
            if not _own_expiry(user):
                if self.stopping:
                    self.recorder.interrupted += 1
                raise
            error = IterationTimeout(f"iteration ran past its {self.timeout:g} s timeout")
        except Exception as exc:  # noqa: BLE001 -- a scenario's failure is the measurement, counted by category
            error = exc
        else:
            if value is not None:
                error = self.failure(value)
        finally:
            user.started = IDLE
        self.record(index, intended, error)

    def record(self, index: int, intended: float, error: BaseException | None) -> None:
        """Count one finished iteration (warmup ones only as a number)."""
        recorder = self.recorder
        if intended < self.warm_end:
            recorder.warmup_iterations += 1
        elif error is None:
            recorder.ok(index, intended, self.now() - intended)
        else:
            recorder.failed(index, intended, error)


def _own_expiry(user: User) -> bool:
    """Whether the cancellation being handled is the watchdog's (then it is absorbed)."""
    if not user.expired:
        return False
    user.expired = False
    task = asyncio.current_task()
    return task is None or task.uncancel() == 0


async def _absorbing_stray_expiry(user: User, body: Any) -> None:
    """Run a user loop; a watchdog cancel that lands after its iteration ended (the
    iteration finished in the same instant) is absorbed and the loop goes on."""
    while True:
        try:
            await body()
            return
        except asyncio.CancelledError:
            if not _own_expiry(user):
                raise


async def closed_user(engine: Engine, user: User, start_at: float, think: float) -> None:
    """One closed-model user: iterate, think, repeat, until the window closes."""
    now = engine.now
    if start_at > now():
        await asyncio.sleep(start_at - now())

    async def body() -> None:
        if think > 0:
            while engine.admit(started := now()):
                await engine.iterate(user, engine.pick(), started)
                await asyncio.sleep(think)
        else:
            await _busy_user(engine, user)

    await _absorbing_stray_expiry(user, body)


async def _busy_user(engine: Engine, user: User) -> None:
    """A closed-model user without think time: :meth:`Engine.iterate` inlined for the
    successful case. Latencies gather in a list per second and go into that second's
    histogram in one call when the second changes or the user yields."""
    now, admit, pick, fns = engine.now, engine.admit, engine.pick, engine.fns
    recorder, failure = engine.recorder, engine.failure
    single = len(fns) == 1
    timed = engine.remaining is None  # bounded by time only: admit() inlined
    batches: list[list[float]] = [[] for _ in fns]
    second, second_ends = -1, -math.inf  # the second being gathered, and when it ends

    def flush() -> None:
        for index, batch in enumerate(batches):
            if batch:
                recorder.histogram(index, second).record_many(batch)
                recorder.completed += len(batch)
                batch.clear()

    streak = 0
    last_yield = now()
    try:
        while (
            (not engine.stopping and (started := now()) < engine.end)
            if timed
            else admit(started := now())
        ):
            index = 0 if single else pick()
            user.started = started  # the watchdog's: an iteration is running
            error: BaseException | None = None
            try:
                value = await fns[index](user)
            except asyncio.CancelledError:
                user.started = IDLE
                if not _own_expiry(user):
                    if engine.stopping:
                        recorder.interrupted += 1
                    raise
                value = error = IterationTimeout(
                    f"iteration ran past its {engine.timeout:g} s timeout"
                )
            except Exception as exc:  # noqa: BLE001 -- a scenario's failure is the measurement, counted by category
                value = error = exc
            user.started = IDLE
            if error is not None:
                engine.record(index, started, error)
            elif value is not None or started < engine.warm_end:
                engine.record(index, started, None if value is None else failure(value))
            else:
                if started >= second_ends:
                    flush()
                    second = int(started - recorder.origin)
                    second_ends = recorder.origin + second + 1
                batches[index].append(now() - started)
            streak += 1
            if streak >= YIELD_EVERY or started - last_yield >= YIELD_AFTER:
                flush()  # the recorder may settle seconds while others run
                streak = 0
                await asyncio.sleep(0)
                last_yield = now()
    finally:
        flush()


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

    async def body() -> None:
        await _slot(engine, user, arrivals)

    await _absorbing_stray_expiry(user, body)


async def _slot(engine: Engine, user: User, arrivals: Arrivals) -> None:
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
        await engine.iterate(user, engine.pick(), intended)

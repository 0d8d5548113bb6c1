"""Signals: a pattern-routed publish/subscribe bus with bounded, checked delivery.

Topics are dot-separated (``"task.completed"``). A subscription pattern matches exactly,
or with wildcards: ``*`` is one segment, ``**`` is any number of segments (also none).

Delivery goes through the kernel's checked ``cast_nowait``. When a subscriber's mailbox
is full, its signals wait in a per-subscription buffer (``buffer`` signals at most) and
are retried every ``retry_interval``; when that buffer is full the overflow policy drops
the oldest or the newest signal and counts it. A subscriber that stops is unsubscribed
(the bus monitors it while it has subscriptions, and demonitors it after its last
``unsubscribe``). Signals are plain messages: telemetry never drives them.
"""

from __future__ import annotations

import enum
import itertools
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bastion._core._actor import Actor
from bastion._core._durations import positive_seconds
from bastion._core._errors import ActorNotAlive, MailboxFull
from bastion._core._messages import Down, MonitorRef
from bastion._core._ref import ActorRef
from bastion._core._runtime import Runtime
from bastion._core._timers import Timer

__all__ = [
    "Overflow",
    "Signal",
    "SignalBus",
    "SignalBusStatistics",
    "SubscriptionStatistics",
    "topic_matches",
]


class Overflow(enum.StrEnum):
    """What a full per-subscriber buffer does with one more signal."""

    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"


@dataclass(frozen=True, slots=True)
class Signal:
    """One published signal, delivered to subscribers' ``on_signal`` (or ``handle_cast``)."""

    topic: str
    data: Any = None
    source: str | None = None
    id: int = 0
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class SubscriptionStatistics:
    """Counters of one subscription."""

    id: int
    pattern: str
    subscriber: str
    delivered: int
    buffered: int
    dropped: int


@dataclass(frozen=True, slots=True)
class SignalBusStatistics:
    """Counters of the whole bus."""

    subscriptions: int
    published: int
    delivered: int
    dropped: int
    unrouted: int
    subscriptions_released: int
    per_subscription: tuple[SubscriptionStatistics, ...] = ()


@dataclass(slots=True)
class _Subscription:
    id: int
    pattern: str
    ref: ActorRef
    capacity: int
    overflow: Overflow
    buffer: deque[Signal] = field(default_factory=deque)
    delivered: int = 0
    dropped: int = 0


def topic_matches(pattern: str, topic: str) -> bool:
    """Whether ``topic`` matches ``pattern`` (``*`` one segment, ``**`` any number)."""
    return _match(pattern.split("."), topic.split("."))


def _match(pat: list[str], top: list[str]) -> bool:
    if not pat:
        return not top
    head = pat[0]
    if head == "**":
        return any(_match(pat[1:], top[i:]) for i in range(len(top) + 1))
    if not top:
        return False
    return (head == "*" or head == top[0]) and _match(pat[1:], top[1:])


class SignalBus:
    """The bus. ``await bus.start(rt)`` spawns its keeper actor (monitors, retries)."""

    def __init__(
        self,
        *,
        buffer: int = 100,
        overflow: Overflow = Overflow.DROP_OLDEST,
        retry_interval: float = 0.01,
    ) -> None:
        if buffer < 1:
            raise ValueError("buffer must be >= 1")
        positive_seconds("retry_interval", retry_interval)
        self._capacity = buffer
        self._overflow = Overflow(overflow)
        self.retry_interval = retry_interval
        self._exact: dict[str, list[_Subscription]] = {}
        self._wild: list[_Subscription] = []
        self._by_id: dict[int, _Subscription] = {}
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._keeper: ActorRef | None = None
        self._armed = False
        self._published = self._delivered = self._dropped = self._unrouted = 0
        self._released = 0
        self._unwatch_pending = False

    async def start(self, runtime: Runtime, *, name: str | None = None) -> SignalBus:
        """Spawn the keeper actor in ``runtime``; returns the bus."""
        self._keeper = await runtime.spawn(_Keeper, self, name=name)
        return self

    async def stop(self) -> None:
        """Stop the keeper; subscriptions are dropped."""
        if self._keeper is not None:
            await self._keeper.stop()
        self._exact.clear()
        self._wild.clear()
        self._by_id.clear()

    async def subscribe(
        self,
        pattern: str,
        subscriber: ActorRef,
        *,
        buffer: int | None = None,
        overflow: Overflow | None = None,
    ) -> int:
        """Route signals whose topic matches ``pattern`` to ``subscriber``; returns an id."""
        keeper = self._require_keeper()
        if not pattern or any(not seg for seg in pattern.split(".")):
            raise ValueError(f"invalid signal pattern {pattern!r}")
        sub = _Subscription(
            next(self._ids),
            pattern,
            subscriber,
            buffer or self._capacity,
            Overflow(overflow or self._overflow),
        )
        self._by_id[sub.id] = sub  # first: a concurrent unwatch must see the subscriber
        if "*" in pattern:
            self._wild.append(sub)
        else:
            self._exact.setdefault(pattern, []).append(sub)
        try:
            await keeper.call(_Watch(subscriber))
        except BaseException:
            self.unsubscribe(sub.id)
            raise
        return sub.id

    def unsubscribe(self, subscription: int) -> bool:
        """Remove one subscription; False if it was not there.

        After a subscriber's last subscription the keeper demonitors it.
        """
        sub = self._by_id.pop(subscription, None)
        if sub is None:
            return False
        if sub in self._wild:
            self._wild.remove(sub)
        else:
            subs = self._exact.get(sub.pattern, [])
            subs.remove(sub)
            if not subs:
                self._exact.pop(sub.pattern, None)
        if not self._subscribed(sub.ref):
            self._request_unwatch()
        return True

    def _subscribed(self, ref: ActorRef) -> bool:
        return any(s.ref == ref for s in self._by_id.values())

    def _request_unwatch(self) -> None:
        """Ask the keeper to drop monitors of refs without subscriptions.

        If its mailbox is full the request stays pending and the keeper reconciles on its
        next message (every message it handles reconciles first).
        """
        self._unwatch_pending = True
        if self._keeper is not None:
            try:
                self._keeper.cast_nowait(_Unwatch())
            except (MailboxFull, ActorNotAlive):
                return

    def publish(self, topic: str, data: Any = None, *, source: str | None = None) -> int:
        """Deliver a signal to every matching subscriber now; returns how many matched."""
        signal = Signal(topic, data, source, next(self._seq), time.time())
        self._published += 1
        routed = 0
        for sub in self._matching(topic):
            routed += 1
            self._deliver(sub, signal)
        if not routed:
            self._unrouted += 1
        return routed

    def _matching(self, topic: str) -> Iterator[_Subscription]:
        yield from list(self._exact.get(topic, ()))
        for sub in list(self._wild):
            if topic_matches(sub.pattern, topic):
                yield sub

    def _deliver(self, sub: _Subscription, signal: Signal) -> None:
        if sub.buffer or not self._try_cast(sub, signal):
            if sub.id not in self._by_id:
                return
            if len(sub.buffer) >= sub.capacity:
                sub.dropped += 1
                self._dropped += 1
                if sub.overflow is Overflow.DROP_NEWEST:
                    return
                sub.buffer.popleft()
            sub.buffer.append(signal)
            self._arm()

    def _try_cast(self, sub: _Subscription, signal: Signal) -> bool:
        try:
            sub.ref.cast_nowait(signal)
        except MailboxFull:
            return False
        except ActorNotAlive:
            self.release(sub.ref)
            return False
        sub.delivered += 1
        self._delivered += 1
        return True

    def _arm(self) -> None:
        if not self._armed and self._keeper is not None:
            try:
                self._keeper.cast_nowait(_Arm())
            except (MailboxFull, ActorNotAlive):
                return
            self._armed = True

    def flush(self) -> int:
        """Retry buffered signals in order; returns how many are still buffered."""
        left = 0
        for sub in list(self._by_id.values()):
            while sub.buffer and self._try_cast(sub, sub.buffer[0]):
                sub.buffer.popleft()
            left += len(sub.buffer)
        return left

    def release(self, subscriber: ActorRef) -> int:
        """Drop every subscription of ``subscriber`` (it stopped); returns how many."""
        ids = [s.id for s in self._by_id.values() if s.ref == subscriber]
        for sid in ids:
            self.unsubscribe(sid)
        self._released += len(ids)
        return len(ids)

    def statistics(self) -> SignalBusStatistics:
        """Counters, with one entry per subscription."""
        per = tuple(
            SubscriptionStatistics(
                s.id, s.pattern, s.ref.name or repr(s.ref), s.delivered, len(s.buffer), s.dropped
            )
            for s in self._by_id.values()
        )
        return SignalBusStatistics(
            len(self._by_id),
            self._published,
            self._delivered,
            self._dropped,
            self._unrouted,
            self._released,
            per,
        )

    def _require_keeper(self) -> ActorRef:
        if self._keeper is None or not self._keeper.is_alive:
            raise RuntimeError("the signal bus is not started: await bus.start(runtime)")
        return self._keeper


@dataclass(frozen=True, slots=True)
class _Watch:
    ref: ActorRef


@dataclass(frozen=True, slots=True)
class _Arm:
    pass


@dataclass(frozen=True, slots=True)
class _Unwatch:
    pass


@dataclass(frozen=True, slots=True)
class _Retry:
    pass


class _Keeper(Actor):
    """Monitors subscribers (releasing their subscriptions) and retries buffered signals."""

    def __init__(self, bus: SignalBus) -> None:
        self._bus = bus
        self._monitors: dict[ActorRef, MonitorRef] = {}
        self._timer: Timer | None = None

    def handle_call(self, message: _Watch) -> None:
        self._reconcile()
        if message.ref not in self._monitors:
            self._monitors[message.ref] = self.monitor(message.ref)

    def handle_cast(self, message: _Arm | _Unwatch) -> None:
        self._reconcile()
        if isinstance(message, _Arm) and self._timer is None:
            self._timer = self.send_interval(self._bus.retry_interval, _Retry())

    def _reconcile(self) -> None:
        """Demonitor subscribers that no longer have a subscription."""
        if not self._bus._unwatch_pending:
            return
        self._bus._unwatch_pending = False
        for ref in [r for r in self._monitors if not self._bus._subscribed(r)]:
            self.demonitor(self._monitors.pop(ref))

    def handle_info(self, message: Any) -> None:
        self._reconcile()
        if isinstance(message, Down):
            self._monitors.pop(message.ref, None)
            self._bus.release(message.ref)
        elif isinstance(message, _Retry) and self._bus.flush() == 0 and self._timer:
            self._timer.cancel()
            self._timer = None
            self._bus._armed = False

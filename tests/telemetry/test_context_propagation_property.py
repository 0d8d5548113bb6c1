"""Property: whatever the interleaving, a handler runs in its own message's context."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bastion
import bastion.testing
from bastion._core._clock import current_clock
from bastion.resilience import ErrorContextFilter, error_scope

_logger = logging.getLogger("tests.context_property")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(ErrorContextFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Worker(bastion.Actor):
    """Logs twice per message, with a pause between, so handlers of many senders interleave."""

    async def _handle(self, message: tuple[int, float]) -> int:
        index, pause = message
        _logger.info("begin", extra={"message_id": index})
        await current_clock().sleep(pause)
        _logger.info("end", extra={"message_id": index})
        return index

    async def handle_call(self, message: tuple[int, float]) -> int:
        return await self._handle(message)

    async def handle_cast(self, message: tuple[int, float]) -> None:
        await self._handle(message)


Caller = Callable[[int, list[bastion.ActorRef], random.Random], Awaitable[None]]


async def _pick(
    i: int, refs: list[bastion.ActorRef], rng: random.Random
) -> tuple[bastion.ActorRef, tuple[int, float]]:
    """After a random pause, a random worker and message ``i`` with a random handler pause."""
    await current_clock().sleep(rng.choice([0, 0, 0.001, 0.01]))
    ref = rng.choice(refs)
    return ref, (i, rng.choice([0, 0, 0.001, 0.005]))


async def _call_or_cast(
    ref: bastion.ActorRef, message: tuple[int, float], rng: random.Random
) -> None:
    """Send ``message`` as a call (checking the reply) or a cast, at random."""
    if rng.random() < 0.5:
        assert await ref.call(message, timeout=60.0) == message[0]
    else:
        await ref.cast(message, timeout=60.0)


async def _fan_out(
    rt: bastion.Runtime,
    actor: type[bastion.Actor],
    workers: int,
    callers: int,
    seed: int,
    one: Caller,
) -> None:
    """Spawn ``workers`` actors, run ``callers`` concurrent ``one`` callers, wait idle."""
    rng = random.Random(seed)
    refs = [await rt.spawn(actor) for _ in range(workers)]
    async with asyncio.TaskGroup() as group:
        for i in range(callers):
            group.create_task(one(i, refs, random.Random(rng.random())))
    await rt.wait_idle(timeout=600.0)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), workers=st.integers(1, 8))
def test_every_record_in_a_handler_carries_the_id_of_its_message(seed: int, workers: int) -> None:
    collect = _Collect()
    _logger.addHandler(collect)
    _logger.setLevel(logging.INFO)
    callers = 1000

    async def one(i: int, refs: list[bastion.ActorRef], rng: random.Random) -> None:
        ref, message = await _pick(i, refs, rng)
        with error_scope("request", correlation_id=f"req-{i}"):
            await _call_or_cast(ref, message, rng)

    async def main() -> None:
        async with bastion.open_runtime(mailbox_capacity=2000) as rt:
            await _fan_out(rt, Worker, workers, callers, seed, one)

    try:
        bastion.testing.run(main, virtual=True)
    finally:
        _logger.removeHandler(collect)
    records: list[Any] = collect.records
    assert len(records) == 2 * callers
    assert all(r.correlation_id == f"req-{r.message_id}" for r in records)


class TracedWorker(bastion.Actor):
    """Tags the span current in its handler with the id of the message it handles."""

    async def handle_call(self, message: tuple[int, float]) -> int:
        from opentelemetry import trace

        index, pause = message
        await current_clock().sleep(pause)
        trace.get_current_span().set_attribute("test.message_id", index)
        return index

    async def handle_cast(self, message: tuple[int, float]) -> None:
        await self.handle_call(message)


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), workers=st.integers(1, 8))
def test_every_span_of_a_handler_carries_its_messages_id_and_caller(
    seed: int, workers: int
) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from bastion.telemetry import otel

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    callers = 1000
    roots: dict[int, int] = {}

    async def one(i: int, refs: list[bastion.ActorRef], rng: random.Random) -> None:
        ref, message = await _pick(i, refs, rng)
        with (
            tracer.start_as_current_span(f"caller-{i}") as root,
            error_scope("request", correlation_id=f"req-{i}"),
        ):
            roots[i] = root.get_span_context().span_id
            await _call_or_cast(ref, message, rng)

    async def main() -> None:
        async with bastion.open_runtime(mailbox_capacity=2000) as rt:
            handle = otel.instrument(rt, tracer_provider=provider)
            await _fan_out(rt, TracedWorker, workers, callers, seed, one)
            handle.uninstrument()

    bastion.testing.run(main, virtual=True)
    provider.shutdown()
    handled = [s for s in exporter.get_finished_spans() if s.name.endswith("TracedWorker")]
    assert len(handled) == callers
    for span in handled:
        assert span.attributes is not None
        index = span.attributes["test.message_id"]
        assert isinstance(index, int)
        assert span.attributes["bastion.correlation_id"] == f"req-{index}"
        assert span.parent is not None
        assert span.parent.span_id == roots[index]

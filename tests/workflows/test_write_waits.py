"""How a run waits for its writes: through the store's ``submit_then`` where it has one,
and never longer than ``write_timeout`` (a commit that does not come is a store failure:
the engine actor restarts and resumes the workflow from what the store holds)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest

import bastion
from bastion.persistence import MemoryStore, Op, PutItem, StoreTimeout, WriteResult
from bastion.testing import VirtualClock
from tests.workflows.conftest import Journal, engine_on

LOG = Journal()


class CallbackCommits(MemoryStore):
    """Applies each batch at once; its future resolves 5 (virtual) seconds later, but
    through :meth:`submit_then` (as SQLite has) the ``then`` callback hears of the commit
    after 1 s (so a run that waited for the future, not the callback, would be late)."""

    async def submit(
        self, ops: Sequence[Op], *, sync: bool = False, defer: bool = False
    ) -> asyncio.Future[WriteResult]:
        applied = await super().submit(ops, sync=sync, defer=defer)
        loop = asyncio.get_running_loop()
        late: asyncio.Future[WriteResult] = loop.create_future()
        loop.call_later(5.0, late.set_result, applied.result())
        return late

    async def submit_then(
        self,
        ops: Sequence[Op],
        then: Callable[[BaseException | None], None],
        *,
        sync: bool = False,
    ) -> asyncio.Future[WriteResult]:
        applied = await super().submit(ops, sync=sync)
        loop = asyncio.get_running_loop()
        late: asyncio.Future[WriteResult] = loop.create_future()
        loop.call_later(1.0, then, None)
        loop.call_later(5.0, late.set_result, applied.result())
        return late


class NoAcks(MemoryStore):
    """Applies each batch and never acknowledges it (a writer that hangs)."""

    async def submit(
        self, ops: Sequence[Op], *, sync: bool = False, defer: bool = False
    ) -> asyncio.Future[WriteResult]:
        await super().submit(ops, sync=sync, defer=defer)
        return asyncio.get_running_loop().create_future()


class LostAcks(MemoryStore):
    """Applies each batch at once; the first batch that records a step is never
    acknowledged (a writer that hangs), every other one at once."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    async def submit(
        self, ops: Sequence[Op], *, sync: bool = False, defer: bool = False
    ) -> asyncio.Future[WriteResult]:
        applied = await super().submit(ops, sync=sync, defer=defer)
        if self.lost == 0 and any(
            isinstance(op, PutItem) and op.collection == "steps" for op in ops
        ):
            self.lost += 1
            return asyncio.get_running_loop().create_future()  # never resolved
        return applied


@bastion.step
async def stamp(name: str) -> str:
    LOG.add(f"{name} {asyncio.get_running_loop().time():.0f}")
    return name


@bastion.workflow(name="tests.write_waits.two_steps")
async def two_steps(ctx: bastion.WorkflowContext) -> str:
    await stamp("a")
    await stamp("b")
    return "done"


async def test_a_store_with_submit_then_wakes_the_run_from_its_callback(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    LOG.clear()
    t0 = clock.now()
    async with engine_on(rt, CallbackCommits()) as engine:
        handle = await engine.start(two_steps, workflow_id="w")  # start: committed at +1
        assert clock.now() - t0 == 1.0
        assert await handle.result(timeout=30.0) == "done"
        finished = clock.now() - t0
    assert LOG.entries == [f"a {t0 + 1:.0f}", f"b {t0 + 2:.0f}"]  # b after a's callback
    assert finished == 3.0  # b's record and the finish share one wait
    await clock.advance(5.0)  # (the futures of the last writes resolve)


async def test_a_commit_that_never_comes_restarts_the_engine_after_write_timeout(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    LOG.clear()
    store = LostAcks()
    t0 = clock.now()
    async with engine_on(rt, store, write_timeout=5.0) as engine:
        handle = await engine.start(two_steps, workflow_id="w")
        assert await handle.result(timeout=60.0) == "done"
        stats = engine.statistics()
    # step a's record was applied (only its acknowledgement was lost): the resumed run
    # replays it; b ran once, after the engine gave up waiting at write_timeout
    assert [entry.split()[0] for entry in LOG.entries] == ["a", "b"]
    assert float(LOG.entries[1].split()[1]) >= t0 + 5.0
    assert stats.faults == 1
    assert stats.resumed == 1


async def test_a_start_whose_commit_never_comes_raises_store_timeout(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    t0 = clock.now()
    async with engine_on(rt, NoAcks(), write_timeout=5.0) as engine:
        with pytest.raises(StoreTimeout, match="within 5"):
            await engine.start(two_steps, workflow_id="w")
    assert clock.now() - t0 == 5.0

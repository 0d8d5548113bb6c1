"""The flags Bastion declares: the error-context mode and the demo's enrich step."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bastion.agents import Task
from bastion.demo._steps import make_handlers
from bastion.flags import DEMO_STEP_IMPL, ERROR_CONTEXT_MODE, Flags, UnknownFlag
from bastion.flags import follow_error_context_mode as follow
from bastion.persistence import MemoryStore
from bastion.resilience.legacy import ContextMode, context_mode, set_context_mode
from bastion.telemetry import current_cohort


@pytest.fixture
def contextvars_mode_after() -> Iterator[None]:
    yield
    set_context_mode("contextvars")


async def test_the_built_in_flags_keep_the_defaults() -> None:
    flags = await Flags.open(MemoryStore())
    await flags.ensure(ERROR_CONTEXT_MODE, actor="bastion", reason="built in")
    await flags.ensure(DEMO_STEP_IMPL, actor="bastion", reason="built in")
    assert flags.evaluate(ERROR_CONTEXT_MODE.key, "node-1").value == "contextvars"
    assert flags.evaluate(DEMO_STEP_IMPL.key, "doc-1").value == "current"


@pytest.mark.usefixtures("contextvars_mode_after")
async def test_the_error_context_mode_follows_its_flag() -> None:
    flags = await Flags.open(MemoryStore())
    with pytest.raises(UnknownFlag):
        follow(flags, "node-1")
    await flags.ensure(ERROR_CONTEXT_MODE, actor="bastion", reason="built in")
    stop = follow(flags, "node-1")
    assert context_mode() is ContextMode.CONTEXTVARS
    with pytest.deprecated_call():
        await flags.set(ERROR_CONTEXT_MODE.key, default="thread_local", actor="ops", reason="r")
    assert context_mode() is ContextMode.THREAD_LOCAL
    # The migration: thread_local is the baseline, contextvars rolled out per process.
    await flags.set(ERROR_CONTEXT_MODE.key, canary="contextvars", actor="ops", reason="r")
    await flags.set_percentage(ERROR_CONTEXT_MODE.key, 100, actor="ops", reason="r")
    assert context_mode() is ContextMode.CONTEXTVARS
    stop()
    with pytest.deprecated_call():
        await flags.set_percentage(ERROR_CONTEXT_MODE.key, 0, actor="ops", reason="r")
        set_context_mode("thread_local")  # the flag no longer drives it; the warning stays
    await flags.set_percentage(ERROR_CONTEXT_MODE.key, 100, actor="ops", reason="r")
    assert context_mode() is ContextMode.THREAD_LOCAL


def _enrich_task(doc: int) -> Task:
    inputs = {"parse": {"doc": doc, "words": 4000}}
    return Task(f"doc-{doc}/enrich", "enrich", {"doc": doc}, 1, inputs)


async def test_the_demo_enrich_step_follows_its_flag_within_the_variant_cohort() -> None:
    flags = await Flags.open(MemoryStore())
    await flags.ensure(DEMO_STEP_IMPL, actor="bastion", reason="built in")
    enrich = make_handlers(seed=7, chaos=0.0, io_seconds=0.0, flags=flags)["enrich"]
    assert "enricher" not in await enrich(_enrich_task(1))
    await flags.set_percentage(DEMO_STEP_IMPL.key, 100, actor="ops", reason="try it")
    assert (await enrich(_enrich_task(1)))["enricher"] == "candidate"
    assert current_cohort() == ""  # the step's cohort ends with the step
    without_flags = make_handlers(seed=7, chaos=0.0, io_seconds=0.0)["enrich"]
    assert "enricher" not in await without_flags(_enrich_task(1))

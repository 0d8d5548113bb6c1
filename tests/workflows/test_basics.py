"""@workflow / @step: results recorded once per step number, handles, idempotent start."""

from __future__ import annotations

from pathlib import Path

import pytest

import bastion
from bastion.persistence import MemoryStore
from bastion.workflows import StepKind, StepStatus, WorkflowStatus, inspect
from tests.workflows.conftest import Journal, engine_on, open_store

CALLS = Journal()


@bastion.step
async def fetch(doc_id: str) -> str:
    CALLS.add(f"fetch {doc_id}")
    return f"text of {doc_id}"


def count_words(text: str) -> int:
    CALLS.add("count")
    return len(text.split())


@bastion.workflow(name="tests.basics.review", version="1")
async def review(ctx: bastion.WorkflowContext, doc_id: str) -> dict[str, object]:
    text = await fetch(doc_id)
    words = await ctx.step(count_words, text)
    return {"text": text, "words": words}


async def test_a_workflow_runs_its_steps_and_records_each_once(
    rt: bastion.Runtime, store_kind: str, tmp_path: Path
) -> None:
    CALLS.clear()
    async with open_store(store_kind, tmp_path) as store, engine_on(rt, store) as engine:
        handle = await engine.start(review, "d1", workflow_id="review-d1")
        assert await handle.result(timeout=5.0) == {"text": "text of d1", "words": 3}
        info = await handle.status()
        assert info.status is WorkflowStatus.COMPLETED
        assert (info.name, info.version) == ("tests.basics.review", "1")
        steps = await handle.steps()
        assert [(s.step_no, s.name, s.kind, s.status) for s in steps] == [
            (0, "fetch", StepKind.STEP, StepStatus.COMPLETED),
            (1, "count_words", StepKind.STEP, StepStatus.COMPLETED),
        ]
        assert steps[0].result == "text of d1"
        assert CALLS.entries == ["fetch d1", "count"]


async def test_start_is_idempotent_by_workflow_id(rt: bastion.Runtime) -> None:
    CALLS.clear()
    store = MemoryStore()
    async with engine_on(rt, store) as engine:
        first = await engine.start(review, "d2", workflow_id="same")
        await first.result(timeout=5.0)
        again = await engine.start(review, "other", workflow_id="same")
        assert await again.result(timeout=5.0) == {"text": "text of d2", "words": 3}
    assert CALLS.entries == ["fetch d2", "count"]
    listed = await inspect(store).list()
    assert [w.id for w in listed] == ["same"]


async def test_a_step_called_outside_a_workflow_just_runs() -> None:
    CALLS.clear()
    assert await fetch("x") == "text of x"
    assert CALLS.entries == ["fetch x"]


def test_workflows_are_started_not_called() -> None:
    with pytest.raises(TypeError, match=r"engine\.start"):
        review("ctx", "d")

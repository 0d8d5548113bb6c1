"""The ``@workflow`` a CoordinatorAgent runs for each of its workflows, and its engine.

A coordinator workflow is a durable workflow of the engine in ``bastion.workflows``
(``bastion.coordinator``, version ``1``), known to its coordinator's engine only (it is
not registered for the process, so an engine of ``open_workflows`` never runs one). Its
input is the validated steps; it runs them as a DAG: each step whose dependencies
completed is a durable step (:func:`~bastion.agents._dispatch.run_task_step`), on a
branch of its own when several may run at once, the results of its dependencies passed
as the task's ``inputs``. A step that fails for good fails the workflow (the branches
still running are cancelled by the engine).

Every coordinator has its own engine on its store (:class:`CoordinatorCore`), owned by
the coordinator actor: its workflows are listed in their own index
(``workflow-index/coordinator/<name>``) and stored as ``workflow/coordinator/<name>/<id>``,
so other engines on the same store neither see nor run them, and ``bastion workflows``
reads them like any other.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any

import msgspec

from bastion._core._backoff import Backoff
from bastion.agents._dispatch import Slot, StepDone, TaskStepFailed, run_task_step
from bastion.agents._workflow import StoredStep
from bastion.workflows._context import WorkflowContext
from bastion.workflows._core import EngineCore
from bastion.workflows._definitions import StepOptions, WorkflowDefinition
from bastion.workflows._run import Run

if TYPE_CHECKING:
    from bastion.agents._coordinator import CoordinatorAgent

__all__ = [
    "DEFINITION_NAME",
    "CoordinatorCore",
    "Tracked",
    "definition_for",
    "index_of",
    "prefix_of",
    "steps_of",
]

DEFINITION_NAME = "bastion.coordinator"
#: Retry delay of a failed step: at once, as before the engine (stored as ``not_before``).
RETRY_BACKOFF = Backoff(initial=0.0, maximum=0.0, jitter=0.0)


def prefix_of(coordinator: str) -> str:
    """The prefix of the engine ids of ``coordinator``'s workflows."""
    return f"coordinator/{coordinator}/"


def index_of(coordinator: str) -> str:
    """The index namespace of ``coordinator``'s active workflows."""
    return f"workflow-index/coordinator/{coordinator}"


class Tracked:
    """What the coordinator holds in memory of a workflow its engine is running.

    ``slots``: the steps out on agents (their phase is ``dispatched``); ``reassigned``:
    reassignments of steps not recorded yet (a completed step's record carries its own);
    ``fresh``: started by this incarnation (no earlier one offered its tasks);
    ``progress``: when a step last finished (the stall check's clock); ``base``: attempts
    steps made before the workflow ran on the engine (a migrated workflow's).
    """

    __slots__ = ("base", "fresh", "progress", "reassigned", "slots")

    def __init__(self, now: float, *, fresh: bool, base: dict[str, int]) -> None:
        self.fresh = fresh
        self.base = base
        self.progress = now
        self.slots: dict[str, Slot] = {}
        self.reassigned: dict[str, int] = {}

    def touch(self, now: float) -> None:
        """A step made progress."""
        self.progress = now


class CoordinatorCore(EngineCore):
    """The engine core of one coordinator: its endings reach the coordinator."""

    coordinator: CoordinatorAgent

    def finished(self, run: Run, error: BaseException | None) -> None:
        """The run recorded its final status: count it, tell the listeners."""
        super().finished(run, error)
        self.coordinator.workflow_finished(run)


def definition_for(coord: CoordinatorAgent) -> WorkflowDefinition:
    """The workflow definition that runs ``coord``'s workflows."""
    return WorkflowDefinition(functools.partial(_coordinate, coord), DEFINITION_NAME, "1")


async def _coordinate(
    coord: CoordinatorAgent,
    ctx: WorkflowContext,
    steps: list[Any],
    done: dict[str, Any] | None = None,
    base: dict[str, int] | None = None,
) -> None:
    """Run the steps of one workflow; ``done``, ``base``: a migrated workflow's completed
    steps and attempts made (``_coordinator_legacy``)."""
    workflow = coord.workflow_of(ctx.workflow_id)
    specs = steps_of(steps)
    coord.track(workflow, dict(base or {}))
    results = {name: value["result"] for name, value in (done or {}).items()}
    todo = [s for s in specs if s.name not in results]

    async def one(step: StoredStep) -> None:
        inputs = {d: results[d] for d in step.depends_on or ()}
        options = coord.step_options(workflow, step.name)
        value = await ctx._call_step(run_task_step, options, (coord, workflow, step, inputs), {})
        # run: a StepDone; replayed from its record: the same as builtins
        results[step.name] = value.result if isinstance(value, StepDone) else value.get("result")

    if _is_chain(todo, results):
        for step in todo:
            await one(step)
        return
    finished = {name: _done_future() for name in [s.name for s in todo]}

    async def branch(step: StoredStep) -> None:
        for dep in step.depends_on or ():
            if dep not in results:
                await finished[dep]
        await one(step)
        finished[step.name].set_result(None)

    await asyncio.gather(*(branch(s) for s in todo))


def _is_chain(todo: list[StoredStep], results: dict[str, Any]) -> bool:
    """Whether each step needs only steps before it in ``todo`` (or done ones), and at
    most one of them: the steps can run one after another on the run's own task."""
    last: str | None = None
    for step in todo:
        waiting = [d for d in step.depends_on or () if d not in results]
        if waiting != ([] if last is None else [last]):
            return False  # it could run beside a step before it
        last = step.name
    return True


def _done_future() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


def step_options_of(name: str, attempts: int) -> StepOptions:
    """A coordinator step's engine options: ``attempts`` attempts, retried at once when
    the task's outcome is retryable."""
    return StepOptions(
        name=name,
        max_attempts=max(1, attempts),
        backoff=RETRY_BACKOFF,
        retry_on=_retryable,
        result_type=StepDone,
    )


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, TaskStepFailed) and exc.retryable


def steps_of(stored: list[Any]) -> list[StoredStep]:
    """A workflow input's steps: as given at its start, or decoded from the store."""
    if stored and isinstance(stored[0], StoredStep):
        return stored
    converted: list[StoredStep] = msgspec.convert(stored, list[StoredStep])
    return converted

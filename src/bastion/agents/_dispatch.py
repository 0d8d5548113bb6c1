"""How a CoordinatorAgent's step runs: its task offered to a TaskAgent, its outcome awaited.

A step of a coordinator workflow is a durable step of the ``@workflow`` engine whose
function is :func:`run_task_step`: it offers the step's task (id
``<workflow>/<step>/<attempt>``, the attempt from :func:`bastion.workflows.step_attempt`)
to the least loaded TaskAgent with the step's capability and waits for its outcome. A
TaskAgent that takes offers gets it in its mailbox (``_offers``); any other through its
``queue`` action, a call under ``dispatch_timeout``. The outcome comes back to the
coordinator (the task's ``reply_to``), which resolves the step's :class:`Slot`; so do
the refusal of an offer, the death of the agent (``Down``: the step is *reassigned*,
offered to the next candidate under the same task id) and the periodic check's verdict
that the workflow stalled (offered again, to the same agent first).

A completed step returns ``{"result", "agent", "reassigned", "attempt"}`` (the engine
records it once); a failed one raises :class:`TaskStepFailed`, which the step's
``retry_on`` retries (a new attempt, so a new task id) only when the outcome is
``retryable``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from bastion._core import _event_names, _events
from bastion._core._errors import ActorNotAlive, BastionError, InfrastructureError, MailboxFull
from bastion._core._registry import RegistryEntry
from bastion.agents._actions import Act
from bastion.agents._offers import TAKES_OFFERS, Offer, QueueOffer
from bastion.agents._task_types import TaskAccepted, TaskOutcome, TaskSpec, TaskStatus
from bastion.agents._workflow import StoredStep
from bastion.workflows._current import step_attempt

if TYPE_CHECKING:
    from bastion.agents._coordinator import CoordinatorAgent

__all__ = [
    "LOST",
    "STALLED",
    "Refused",
    "Slot",
    "StepDone",
    "TaskStepFailed",
    "run_task_step",
]


class TaskStepFailed(InfrastructureError):
    """A step's task failed (its message is the outcome's error); ``retryable`` from the
    outcome decides whether the step is tried again (an infrastructure error to the
    engine: it happened elsewhere, and only the outcome knows whether it may pass)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class StepDone(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A completed step's recorded result: the task's result, who ran it, how often the
    step was reassigned, and its attempt number."""

    result: Any = None
    agent: str | None = None
    reassigned: int = 0
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class Refused:
    """The agent refused the offer (full, paused, gone, slow)."""

    error: BaseException


#: The agent holding the step died: offer it to another under the same task id.
LOST = "lost"
#: The workflow made no progress for ``stall_timeout``: offer the step again.
STALLED = "stalled"


class Slot:
    """One step's task out on one agent, until its outcome (or another verdict) arrives."""

    __slots__ = ("future", "offer", "step", "workflow")

    def __init__(self, workflow: str, step: str, offer: Offer) -> None:
        self.workflow = workflow
        self.step = step
        self.offer = offer
        self.future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def resolve(self, verdict: Any) -> None:
        """Wake the step with ``verdict`` (an outcome, :class:`Refused`, LOST, STALLED)."""
        if not self.future.done():
            self.future.set_result(verdict)


async def run_task_step(
    coord: CoordinatorAgent, workflow: str, step: StoredStep, inputs: dict[str, Any]
) -> StepDone:
    """Run ``step`` of ``workflow`` on a TaskAgent; its result with who ran it (see module)."""
    attempt = step_attempt() + coord.attempt_base(workflow, step.name)
    task_id = f"{workflow}/{step.name}/{attempt}"
    tracked = coord.tracked(workflow)
    new = tracked.fresh  # no earlier incarnation offered a task of this workflow
    reassigned = 0
    # an earlier incarnation may have offered it: to the agent that holds it first
    prefer = None if new else await coord.holder_of(workflow, task_id)
    while True:
        coord.stop_if_paused(workflow)
        verdict, agent = await _offer_to_one(coord, workflow, step, task_id, inputs, prefer, new)
        new = False
        if isinstance(verdict, TaskOutcome):
            tracked.touch(coord.clock.now())
            if verdict.status is TaskStatus.COMPLETED:
                return StepDone(
                    result=verdict.result, agent=agent, reassigned=reassigned, attempt=attempt
                )
            retry = verdict.retryable and attempt < coord.max_step_attempts
            if retry:
                coord.retried_count += 1
            raise TaskStepFailed(verdict.error or "the task failed", retryable=verdict.retryable)
        if verdict is LOST:
            reassigned += 1
            tracked.reassigned[step.name] = reassigned
            coord.reassigned_count += 1
            prefer = None
        elif verdict is STALLED:
            prefer = agent  # the agent that had it first: a re-offer is idempotent there
        else:  # None: nobody took it; the periodic check wakes it to look again
            await coord.next_check()


async def _offer_to_one(
    coord: CoordinatorAgent,
    workflow: str,
    step: StoredStep,
    task_id: str,
    inputs: dict[str, Any],
    prefer: str | None,
    new: bool,
) -> tuple[Any, str | None]:
    """Offer the task to the candidates in turn until one takes it; what came back (None:
    nobody took it) and the agent."""
    for entry in coord.candidates(step, prefer):
        slot = coord.open_slot(workflow, step.name, Offer(task_id, entry.name), entry)
        try:
            refused = await _send(coord, slot, entry, step, inputs, new)
            verdict = refused if refused is not None else await slot.future
        finally:
            coord.close_slot(slot)
        if not isinstance(verdict, Refused):
            return verdict, entry.name
        coord.dispatched_count -= 1
        _events.emit(
            _event_names.WORKFLOW_DISPATCH_REFUSED,
            {"count": 1},
            {**coord._meta(), "workflow": workflow, "agent": entry.name, "error": verdict.error},
        )
        new = False
    return None, None


async def _send(
    coord: CoordinatorAgent,
    slot: Slot,
    entry: RegistryEntry,
    step: StoredStep,
    inputs: dict[str, Any],
    new: bool,
) -> Refused | None:
    """Hand the task to ``entry``'s agent; a refusal known at once, else None."""
    task_id = slot.offer.task_id
    params = {
        "type": step.task_type,
        "payload": step.payload,
        "id": task_id,
        "inputs": inputs,
        "reply_to": coord.name,
        "timeout": step.timeout,
    }
    if entry.metadata.get(TAKES_OFFERS):
        offer = QueueOffer(
            TaskSpec(**params),
            slot.offer,
            coord.ref,
            coord.store if new else None,
            coord.holder_record(slot.workflow, task_id, entry.name),
            coord.store,
        )
        try:
            entry.ref.cast_nowait(offer)
        except (ActorNotAlive, MailboxFull) as exc:
            return Refused(exc)
        return None
    # written (submitted) before the call: applied before the agent's write of the task
    await coord.store.submit([coord.holder_record(slot.workflow, task_id, entry.name)])
    try:
        accepted = await entry.ref.call(Act("queue", params), timeout=coord.dispatch_timeout)
    except BastionError as exc:
        return Refused(exc)
    if isinstance(accepted, TaskAccepted) and accepted.outcome is not None:
        slot.resolve(accepted.outcome)
    return None

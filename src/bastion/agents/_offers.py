"""Step offers of a CoordinatorAgent: a step is sent to a TaskAgent without waiting for it.

A TaskAgent acknowledges a ``queue`` once the task is committed to its store. If the
coordinator awaited that acknowledgement inside its handler, every step dispatch would
cost one commit round trip of the coordinator's time, and the dispatches of concurrent
workflows could never share a commit. Instead the coordinator marks the step dispatched
at once (in memory: it is saved with the coordinator's next write), starts a supervised
task that makes the call, and goes on with its next message; the task sends the answer
back as an :class:`Offered` message. A refused offer (the agent is full, gone, slow)
puts the step back to pending and offers it to the next candidate, as a refused call
did before; an answer that arrives after the step moved on is ignored.

A TaskAgent that takes offers (registry metadata ``takes_offers``: its ``queue`` action and
hooks are the built-in ones) gets the step as a :class:`QueueOffer` message straight in its
mailbox instead: no task, no call, and no commit to wait for — the agent queues the task,
saves it with the write that also records the task's start, and answers only a refusal or
an outcome it already holds. A refusal of the mailbox itself (full, or the agent gone) is
known at once. Any other agent with the capability is offered the step through its
``queue`` action (a call under ``dispatch_timeout``).

Nothing is acknowledged too early: a user's ``start_workflow`` is answered after the
coordinator's write commits, and after a crash the coordinator re-offers every
dispatched step under the same task id (TaskAgents queue by id idempotently), whether or
not the agent's own commit of the task had landed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bastion._core import _event_names, _events
from bastion._core._errors import ActorNotAlive, BastionError, MailboxFull
from bastion._core._ref import ActorRef
from bastion._core._registry import RegistryEntry
from bastion.agents._actions import Act
from bastion.agents._task_support import send_done
from bastion.agents._task_types import TaskAccepted, TaskSpec
from bastion.agents._workflow import StepPhase, StepState, Workflow, WorkflowPhase
from bastion.persistence import StateStore

if TYPE_CHECKING:
    from bastion.agents._task_agent import TaskAgent
    from bastion.agents._workflow_engine import WorkflowEngine

__all__ = [
    "TAKES_OFFERS",
    "Offer",
    "Offered",
    "QueueOffer",
    "answered",
    "offer",
    "offer_step",
    "send_offers",
    "take_offer",
    "takes_offers",
]

#: Registry metadata key of agents that take :class:`QueueOffer` messages.
TAKES_OFFERS = "takes_offers"


@dataclass(slots=True, eq=False)
class Offer:
    """One step offered to one agent; ``rest``: the candidates not tried yet."""

    workflow: str
    step: str
    task_id: str
    agent: str
    previous_agent: str | None
    rest: list[RegistryEntry] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Offered:
    """The answer to an offer, sent by the offering task to its coordinator."""

    offer: Offer
    accepted: Any = None
    error: BastionError | None = None


@dataclass(frozen=True, slots=True)
class QueueOffer:
    """A step's task offered straight to a TaskAgent's mailbox; the agent answers
    ``coordinator`` with :class:`Offered` only to refuse it or to give its known outcome.

    ``new_on``: the coordinator's store when the task id is new — its step attempt was
    created by this coordinator incarnation and never offered before. A TaskAgent on
    that same store cannot hold its outcome (see :func:`offer`) and skips reading it.
    """

    spec: TaskSpec
    offer: Offer
    coordinator: ActorRef
    new_on: StateStore | None = None


async def offer_step(
    coordinator: ActorRef, agent: ActorRef, params: dict[str, Any], offer: Offer, timeout: float
) -> None:
    """Queue the step's task on ``agent`` and send the answer to ``coordinator``."""
    try:
        answer = Offered(offer, accepted=await agent.call(Act("queue", params), timeout=timeout))
    except BastionError as exc:
        answer = Offered(offer, error=exc)
    while True:
        try:
            await coordinator.cast(answer)
            return
        except ActorNotAlive:
            return  # the coordinator stopped: its next incarnation re-offers the step
        except MailboxFull:
            continue  # alive but swamped: keep offering the answer


def offer(
    coord: WorkflowEngine,
    wf: Workflow,
    step: StepState,
    candidates: list[RegistryEntry],
    previous_agent: str | None,
) -> None:
    """Mark ``step`` dispatched to the first candidate and offer it without waiting; the
    answer comes back to ``coord`` as an :class:`Offered` message (:func:`answered`).

    A :class:`QueueOffer` waits in ``coord._outbox`` until the write recording the
    dispatch is submitted (:func:`send_offers`). A task id new to this incarnation
    (``coord._new_ids``) is then offered as new on the coordinator's store: a store
    applies batches in submission order, so if the agent's outcome of the task was ever
    stored, the dispatch was too, and a later incarnation restores the step as
    dispatched and re-offers it as not new (every re-offer, refusal and reassignment is
    not new).
    """
    if not candidates:
        return  # stays pending: the periodic check offers it again
    entry = candidates[0]
    task_id = step.task_id(wf.id)
    inputs = {d: wf.step(d).result for d in step.depends_on}
    sent = Offer(wf.id, step.name, task_id, entry.name, previous_agent, candidates[1:])
    step.status, step.agent = StepPhase.DISPATCHED, entry.name
    coord._index.dispatched(entry.name)
    coord.dispatched_count += 1  # taken back if the offer is refused
    coord.workflows.touch(wf.id)
    coord._watch(entry.name, entry.ref)
    coord._offers[task_id] = sent
    new = task_id in coord._new_ids
    if new:
        coord._new_ids.discard(task_id)
    if entry.metadata.get(TAKES_OFFERS):
        spec = TaskSpec(
            type=step.task_type,
            payload=step.payload,
            id=task_id,
            inputs=inputs,
            reply_to=coord.name,
            timeout=step.timeout,
        )
        message = QueueOffer(spec, sent, coord.ref, coord.store if new else None)
        coord._outbox.append((entry.ref, message))
        return
    params = {
        "type": step.task_type,
        "payload": step.payload,
        "id": task_id,
        "inputs": inputs,
        "reply_to": coord.name,
        "timeout": step.timeout,
    }
    coord.runtime.tasks.start(
        offer_step,
        coord.ref,
        entry.ref,
        params,
        sent,
        coord.dispatch_timeout,
        name=f"offer:{task_id}",
    )


async def send_offers(coord: WorkflowEngine, *, submitted: bool) -> None:
    """Deliver the offers made while handling a message, after the write recording their
    dispatch was submitted (``submitted=False``: it was not, and none is offered as new).
    A mailbox that refuses one (full, or its agent gone) sends the step to the next
    candidate, whose offer leaves after that change is submitted in turn."""
    while coord._outbox:
        outbox, coord._outbox = coord._outbox, []
        refused = False
        for ref, message in outbox:
            if not submitted and message.new_on is not None:
                message = dataclasses.replace(message, new_on=None)
            try:
                ref.cast_nowait(message)
            except (ActorNotAlive, MailboxFull) as exc:
                await answered(coord, Offered(message.offer, error=exc))
                refused = True
        if refused:
            await coord.persist(wait=False)
            submitted = True


async def answered(coord: WorkflowEngine, answer: Offered) -> None:
    """An offer's answer: nothing if the step moved on; the outcome if the task had
    already run; a refusal puts the step back to pending and tries the next candidate."""
    sent = answer.offer
    if coord._offers.get(sent.task_id) is not sent:
        return  # a later offer of the same task replaced it
    del coord._offers[sent.task_id]
    wf = coord.workflows.get(sent.workflow)
    step = None if wf is None else next((s for s in wf.steps if s.name == sent.step), None)
    if wf is None or step is None or step.status is not StepPhase.DISPATCHED:
        return  # finished, cancelled, or its outcome already arrived
    if step.agent != sent.agent or step.task_id(wf.id) != sent.task_id:
        return
    if answer.error is not None:
        _refused(coord, wf, step, sent, answer.error)
        return
    accepted = answer.accepted
    if isinstance(accepted, TaskAccepted) and accepted.outcome is not None:
        await coord._apply_outcome(wf, step, accepted.outcome)


def _refused(
    coord: WorkflowEngine, wf: Workflow, step: StepState, sent: Offer, error: BastionError
) -> None:
    """An offer was refused: the step goes back to pending and to the next candidate."""
    _events.emit(
        _event_names.WORKFLOW_DISPATCH_REFUSED,
        {"count": 1},
        {**coord._meta(), "workflow": wf.id, "agent": sent.agent, "error": error},
    )
    coord._index.release(step)
    coord.dispatched_count -= 1
    step.status, step.agent = StepPhase.PENDING, sent.previous_agent
    coord.workflows.touch(wf.id)
    if wf.status is WorkflowPhase.RUNNING:
        rest = [e for e in sent.rest if e.ref.is_alive]
        offer(coord, wf, step, rest, sent.previous_agent)


# -- the TaskAgent's side ------------------------------------------------------------------
async def take_offer(agent: TaskAgent, message: QueueOffer) -> None:
    """A coordinator's step: queued as by ``queue``, without a reply waiting for its commit;
    only a refusal or a known outcome is answered."""
    try:
        new = message.new_on is not None and message.new_on is agent.store
        accepted = await agent._queue(message.spec, outcome_possible=not new)
    except BastionError as exc:
        answer = Offered(message.offer, error=exc)
    else:
        if accepted.outcome is None:
            if not agent._kicked:  # else the run of the task saves it with its start
                await agent.persist(wait=False)
            agent._publish_load()
            return
        answer = Offered(message.offer, accepted=accepted)
    try:
        message.coordinator.cast_nowait(answer)
    except MailboxFull:
        agent.runtime.tasks.start(
            send_done, message.coordinator, answer, name=f"offered:{message.spec.id}"
        )
    except ActorNotAlive:
        return  # its next incarnation offers the step again


def takes_offers(agent: TaskAgent, base: type[TaskAgent]) -> bool:
    """Whether a coordinator may offer steps to ``agent`` as messages: only when its
    ``queue`` action and action hooks are those of ``base`` (its own would be bypassed)."""
    cls = type(agent)
    spec = agent._actions.get("queue")
    return (
        spec is not None
        and spec.method is base.queue_task
        and all(
            getattr(cls, hook) is getattr(base, hook)
            for hook in ("before_action", "after_action", "on_action_error")
        )
    )

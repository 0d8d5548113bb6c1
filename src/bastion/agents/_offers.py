"""Step offers: how a CoordinatorAgent hands a step's task to a TaskAgent without a call.

A TaskAgent acknowledges a ``queue`` once the task is committed to its store. A
TaskAgent that takes offers (registry metadata ``takes_offers``: its ``queue`` action and
hooks are the built-in ones) gets the step as a :class:`QueueOffer` message straight in
its mailbox instead: no call, and no commit to wait for -- the agent queues the task,
saves it with the write that also records the task's start, and answers only a refusal
or an outcome it already holds (:class:`Offered`); the outcome of a task it runs comes
as usual, a ``TaskFinished`` sent to the task's ``reply_to``. A refusal of the mailbox
itself (full, or the agent gone) is known at once. The coordinator's side of an offer
is ``_dispatch``.

Nothing is acknowledged too early: the coordinator's step waits for the outcome, and
after a crash its workflow re-runs the step, which offers the task again under the same
id (TaskAgents queue by id idempotently and answer with the recorded outcome).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bastion._core._errors import ActorNotAlive, BastionError, MailboxFull
from bastion._core._ref import ActorRef
from bastion.agents._task_support import send_done
from bastion.agents._task_types import TaskSpec
from bastion.persistence import Op, StateStore

if TYPE_CHECKING:
    from bastion.agents._task_agent import TaskAgent

__all__ = ["TAKES_OFFERS", "Offer", "Offered", "QueueOffer", "take_offer", "takes_offers"]

#: Registry metadata key of agents that take :class:`QueueOffer` messages.
TAKES_OFFERS = "takes_offers"


@dataclass(slots=True, eq=False)
class Offer:
    """One step attempt's task offered to one agent (compared by identity: a later offer
    of the same task is another object, so a late answer to an earlier one is ignored)."""

    task_id: str
    agent: str


@dataclass(frozen=True, slots=True)
class Offered:
    """The answer to an offer, sent to the coordinator: a refusal (``error``) or the
    acceptance (``accepted``, a ``TaskAccepted`` that may hold a known outcome)."""

    offer: Offer
    accepted: Any = None
    error: BastionError | None = None


@dataclass(frozen=True, slots=True)
class QueueOffer:
    """A step's task offered straight to a TaskAgent's mailbox; the agent answers
    ``coordinator`` with :class:`Offered` only to refuse it or to give its known outcome.

    ``new_on``: the coordinator's store when the task id is new -- its workflow was
    started by this coordinator incarnation, so no earlier one offered it. A TaskAgent
    on that same store cannot hold its outcome and skips reading it.

    ``record``: the coordinator's note of who holds the task, to be written on
    ``record_on`` (its store); a TaskAgent on that store writes it in the same batch
    as the queued task, so after a crash the coordinator offers the task again to the
    agent that holds it (queued or finished) and not to another.
    """

    spec: TaskSpec
    offer: Offer
    coordinator: ActorRef
    new_on: StateStore | None = None
    record: Op | None = None
    record_on: StateStore | None = None


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
            if message.record is not None and message.record_on is agent.store:
                agent._staged.append(message.record)  # saved with the queued task
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

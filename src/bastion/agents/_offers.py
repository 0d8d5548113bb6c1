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

Nothing is acknowledged too early: a user's ``start_workflow`` is answered after the
coordinator's write commits, and after a crash the coordinator re-offers every
dispatched step under the same task id (TaskAgents queue by id idempotently), whether or
not the agent's own commit of the task had landed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bastion._core._errors import ActorNotAlive, BastionError, MailboxFull
from bastion._core._ref import ActorRef
from bastion._core._registry import RegistryEntry
from bastion.agents._actions import Act

__all__ = ["Offer", "Offered", "offer_step"]


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

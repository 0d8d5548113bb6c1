"""A CoordinatorAgent's steps out on agents: candidates, offers' slots, monitors, answers.

A step's task out on an agent is a :class:`~bastion.agents._dispatch.Slot`, found by
task id (its outcome's ``TaskFinished``, an offer's answer) and by agent (its death).
The coordinator monitors an agent only while it holds a slot. Which agent holds a task
is noted in the workflow's namespace (``holders``), written by the TaskAgent with the
queued task, so a step offered again after a crash goes to that agent first.
"""

from __future__ import annotations

import asyncio

from bastion._core._messages import Down, MonitorRef
from bastion._core._registry import RegistryEntry
from bastion.agents._coordinator_reads import CoordinatorReads
from bastion.agents._dispatch import LOST, Refused, Slot
from bastion.agents._offers import Offer, Offered
from bastion.agents._task_types import TaskAccepted
from bastion.agents._workflow import StoredStep
from bastion.persistence import PutItem
from bastion.workflows._records import namespace_of

__all__ = ["HOLDERS", "CoordinatorSlots"]

#: The collection of a coordinator workflow that notes which agent holds each task id.
HOLDERS = "holders"


class CoordinatorSlots(CoordinatorReads):
    """Dispatch bookkeeping of :class:`~bastion.agents.CoordinatorAgent`."""

    _bastion_framework = True

    # Set by CoordinatorAgent.
    check_interval: float
    dispatched_count: int
    _slots: dict[str, Slot]
    _on_agent: dict[str, set[Slot]]
    _monitors: dict[str, MonitorRef]
    _tick: asyncio.Future[None] | None

    def holder_record(self, workflow: str, task_id: str, agent: str) -> PutItem:
        """The note that ``agent`` holds task ``task_id`` (see ``QueueOffer.record``)."""
        namespace = namespace_of(self._prefix + workflow)
        return PutItem(namespace, HOLDERS, task_id, agent.encode())

    async def holder_of(self, workflow: str, task_id: str) -> str | None:
        """The agent noted as holding task ``task_id``, if any."""
        data = await self.store.read_item(namespace_of(self._prefix + workflow), HOLDERS, task_id)
        return None if data is None else data.decode()

    def candidates(self, step: StoredStep, prefer: str | None) -> list[RegistryEntry]:
        """Live, unpaused agents with the step's capability: ``prefer`` first, then by load
        (as the agents publish it; on a tie, fewer of this coordinator's steps out)."""
        wanted = step.capability or step.task_type
        found = [
            e
            for e in self.runtime.registry.select(capabilities=wanted)
            if e.metadata.get("health") != "paused" and e.ref.is_alive
        ]
        out = self._on_agent  # this coordinator's steps out on each agent break load ties
        return sorted(
            found,
            key=lambda e: (
                e.name != prefer,
                e.metadata.get("load", 0),
                len(out.get(e.name, ())),
                e.name,
            ),
        )

    def open_slot(self, workflow: str, step: str, offer: Offer, entry: RegistryEntry) -> Slot:
        """The step's task goes out to ``entry``: watch the agent, wait for the outcome."""
        slot = Slot(workflow, step, offer)
        self._slots[offer.task_id] = slot
        on_agent = self._on_agent.get(offer.agent)
        if on_agent is None:
            on_agent = self._on_agent[offer.agent] = set()
            if offer.agent not in self._monitors:
                self._monitors[offer.agent] = self.monitor(entry.ref)
        on_agent.add(slot)
        tracked = self._tracked.get(workflow)
        if tracked is not None:
            tracked.slots[step] = slot
        self.dispatched_count += 1
        return slot

    def close_slot(self, slot: Slot) -> None:
        """The step stopped waiting on its agent (an answer came, or its run ended)."""
        offer = slot.offer
        if self._slots.get(offer.task_id) is slot:
            del self._slots[offer.task_id]
        on_agent = self._on_agent.get(offer.agent)
        if on_agent is not None:
            on_agent.discard(slot)
            if not on_agent:
                del self._on_agent[offer.agent]
                monitor = self._monitors.pop(offer.agent, None)
                if monitor is not None:
                    self.demonitor(monitor)
        tracked = self._tracked.get(slot.workflow)
        if tracked is not None and tracked.slots.get(slot.step) is slot:
            del tracked.slots[slot.step]

    async def next_check(self) -> None:
        """Wait for the next periodic check (a step that found no agent looks again)."""
        tick = self._tick
        if tick is None or tick.done():
            tick = self._tick = asyncio.get_running_loop().create_future()
        await asyncio.wait((tick,), timeout=self.check_interval)

    async def _stop_run(self, wid: str) -> None:
        """End the run of engine workflow ``wid`` in this process (its records stay)."""
        core = self.core
        core.active.pop(wid, None)
        task = core.tasks.get(wid)
        if task is not None:
            task.cancel()
            await asyncio.wait((task,), timeout=self.check_interval)

    def _answered(self, answer: Offered) -> None:
        slot = self._slots.get(answer.offer.task_id)
        if slot is None or slot.offer is not answer.offer:
            return  # a later offer of the same task replaced it
        if answer.error is not None:
            slot.resolve(Refused(answer.error))
        elif isinstance(answer.accepted, TaskAccepted) and answer.accepted.outcome is not None:
            slot.resolve(answer.accepted.outcome)

    def _agent_down(self, down: Down) -> None:
        name = down.ref.name
        if name is None or self._monitors.pop(name, None) is None:
            return
        for slot in list(self._on_agent.pop(name, ())):
            slot.resolve(LOST)

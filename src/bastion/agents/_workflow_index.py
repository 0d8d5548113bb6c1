"""What the coordinator needs after each message, kept as workflows change.

Without it every message walked every active workflow: which agents still hold a
dispatched step (to demonitor the idle ones), how many workflows run (to start or queue
a new one), which pending workflow is the oldest (to promote it). Each answer is now
a counter or a queue updated at the change, so a message costs the same with 10 or
10,000 active workflows.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

from bastion.agents._workflow import StepPhase, StepState, Workflow, WorkflowPhase

__all__ = ["WorkflowIndex"]


class WorkflowIndex:
    """Workflows per phase, pending ones oldest first, dispatched steps per agent."""

    def __init__(self) -> None:
        self.phases: collections.Counter[WorkflowPhase] = collections.Counter()
        self._pending: dict[str, None] = {}  # insertion order: oldest first
        self._busy: collections.Counter[str] = collections.Counter()
        self._maybe_idle: set[str] = set()

    def rebuild(self, workflows: Iterable[Workflow]) -> None:
        """Index restored workflows (once, at start)."""
        self.phases.clear()
        self._pending.clear()
        self._busy.clear()
        self._maybe_idle.clear()
        for wf in sorted(workflows, key=lambda w: w.created_at):
            self.add(wf)
            for step in wf.steps:
                if step.status is StepPhase.DISPATCHED and step.agent is not None:
                    self._busy[step.agent] += 1

    def add(self, wf: Workflow) -> None:
        """A workflow became active (in its current phase)."""
        self.phases[wf.status] += 1
        if wf.status is WorkflowPhase.PENDING:
            self._pending[wf.id] = None

    def set_phase(self, wf: Workflow, phase: WorkflowPhase) -> None:
        """Move an active workflow to ``phase`` (sets ``wf.status``); a workflow is
        pending only from its start, so pending ones stay in start order."""
        self.phases[wf.status] -= 1
        self._pending.pop(wf.id, None)
        wf.status = phase
        self.add(wf)

    def remove(self, wf: Workflow) -> None:
        """A workflow finished: it and its dispatched steps leave the index."""
        self.phases[wf.status] -= 1
        self._pending.pop(wf.id, None)
        for step in wf.steps:
            if step.status is StepPhase.DISPATCHED:
                self.release(step)

    def oldest_pending(self) -> str | None:
        """The id of the pending workflow started first, or None."""
        return next(iter(self._pending), None)

    def dispatched(self, agent: str) -> None:
        """A step was dispatched to ``agent``."""
        self._busy[agent] += 1

    def release(self, step: StepState) -> None:
        """``step`` stops being dispatched (call before changing its status or agent)."""
        agent = step.agent
        if step.status is not StepPhase.DISPATCHED or agent is None:
            return
        self._busy[agent] -= 1
        if self._busy[agent] <= 0:
            del self._busy[agent]
            self._maybe_idle.add(agent)

    def newly_idle(self) -> list[str]:
        """Agents whose last dispatched step ended since the last call."""
        idle = [a for a in self._maybe_idle if a not in self._busy]
        self._maybe_idle.clear()
        return idle

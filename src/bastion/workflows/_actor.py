"""The engine actor: the supervised owner of an engine's workflow runs.

Its incarnation owns the run tasks: ``on_start`` loads the active index and resumes
every workflow, ``on_stop`` cancels the runs (their progress is in the store). A run
whose store write failed sends :class:`Fault`; the actor then crashes on purpose, and
its supervisor restarts it, which resumes every workflow from its history.
"""

from __future__ import annotations

from typing import Any

from bastion._core._actor import Actor
from bastion._core._errors import InfrastructureError
from bastion._core._messages import ExitReason
from bastion.workflows._core import EngineCore, Fault

__all__ = ["EngineActor", "EngineFaulted"]


class EngineFaulted(InfrastructureError):
    """A workflow run hit a store failure; the engine actor restarts and resumes."""


class EngineActor(Actor):
    """Owns the runs of one :class:`WorkflowEngine` (one incarnation at a time)."""

    _bastion_framework = True

    def __init__(self, core: EngineCore) -> None:
        self._core = core

    async def on_start(self) -> None:
        """Take over the engine's runs: resume every active workflow of the store."""
        await self._core.attach(self.ref)

    def on_stop(self, reason: ExitReason) -> None:
        """Cancel the runs of this incarnation; the next one resumes them from the store."""
        self._core.detach()

    def handle_cast(self, message: Any) -> None:
        """A run's fault crashes this incarnation (the supervisor restarts it)."""
        if isinstance(message, Fault):
            raise EngineFaulted(
                f"workflow {message.workflow_id!r}: the store failed ({message.error}); "
                "restarting the workflow engine to resume from the store"
            )

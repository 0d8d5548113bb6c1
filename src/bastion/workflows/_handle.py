"""``WorkflowHandle``: one workflow, seen from the code that started it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bastion.workflows._engine import WorkflowEngine
    from bastion.workflows._inspect import StepInfo, WorkflowInfo

__all__ = ["WorkflowHandle"]


class WorkflowHandle:
    """Wait for, inspect and cancel one workflow (from ``engine.start`` or ``engine.handle``)."""

    __slots__ = ("_engine", "workflow_id")

    def __init__(self, engine: WorkflowEngine, workflow_id: str) -> None:
        self._engine = engine
        self.workflow_id = workflow_id

    async def result(self, *, timeout: float) -> Any:
        """The return value, waiting up to ``timeout`` s (see ``WorkflowEngine.result``)."""
        return await self._engine.result(self.workflow_id, timeout=timeout)

    async def status(self) -> WorkflowInfo:
        """The stored state of the workflow now."""
        return await self._engine.get(self.workflow_id)

    async def steps(self) -> list[StepInfo]:
        """Its recorded steps."""
        return await self._engine.steps(self.workflow_id)

    async def cancel(self) -> WorkflowInfo:
        """Cancel it (its running step is cancelled and its late result rejected)."""
        return await self._engine.cancel(self.workflow_id)

    def __repr__(self) -> str:
        return f"<WorkflowHandle {self.workflow_id!r}>"

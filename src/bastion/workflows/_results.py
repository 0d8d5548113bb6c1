"""Reading what workflows produce: results and events (a mixin of ``WorkflowEngine``).

A partitioned engine's workflow may run on another node: its waits then read the store
every ``discover_every`` seconds too, besides the in-process notifications.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bastion._core._durations import positive_seconds
from bastion.workflows._core import EngineCore
from bastion.workflows._errors import (
    WorkflowCancelled,
    WorkflowFailed,
    WorkflowTimedOut,
    WorkflowWaitTimeout,
)
from bastion.workflows._inspect import WorkflowStore, check_workflow_id
from bastion.workflows._records import Meta, WorkflowStatus

__all__ = ["EngineResults"]


class EngineResults:
    """``result`` and ``get_event`` of :class:`~bastion.workflows.WorkflowEngine`."""

    _core: EngineCore
    store: WorkflowStore

    # -- results -------------------------------------------------------------------------------
    async def result(self, workflow_id: str, *, timeout: float) -> Any:
        """The workflow's return value, waiting up to ``timeout`` seconds.

        Raises WorkflowFailed (the original error chained when it failed in this
        process), WorkflowCancelled, WorkflowWaitTimeout (it goes on running),
        IncompatibleWorkflow / CorruptWorkflow (this engine cannot run it), or
        UnknownWorkflow.
        """
        positive_seconds("result timeout", timeout)
        core = self._core
        waiter = core.watch_result(workflow_id)
        try:
            refused = core.refused.get(workflow_id)
            if refused is not None:
                raise refused
            run = core.active.get(workflow_id)
            meta = run.meta if run is not None else await self.store._meta(workflow_id)
            if meta.status.finished:  # (a run in memory: no store read to wait for)
                return self._outcome(workflow_id, meta, None)
            got = await self._wait_result(workflow_id, waiter, timeout)
        finally:
            core.unwatch_result(workflow_id, waiter)
        if got is not None:
            final, error = got
            if final is None:
                raise error if error is not None else WorkflowWaitTimeout(workflow_id)
            return self._outcome(workflow_id, final, error)
        meta = await self.store._meta(workflow_id)
        if meta.status.finished:
            return self._outcome(workflow_id, meta, None)
        raise WorkflowWaitTimeout(
            f"workflow {workflow_id!r} did not finish within {timeout:g}s (it goes on)",
            context={"workflow_id": workflow_id},
        )

    async def _wait_result(
        self,
        workflow_id: str,
        waiter: asyncio.Future[tuple[Meta | None, BaseException | None]],
        timeout: float,
    ) -> tuple[Meta | None, BaseException | None] | None:
        """The waiter's result within ``timeout``; partitioned, the store is read every
        ``discover_every`` too (the workflow may run on another node)."""
        core = self._core
        if core.ownership is None:
            done, _ = await asyncio.wait((waiter,), timeout=timeout)
            return waiter.result() if done else None
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while (left := end - loop.time()) > 0:
            done, _ = await asyncio.wait((waiter,), timeout=min(left, core.discover_every))
            if done:
                return waiter.result()
            meta = await self.store._meta(workflow_id)
            if meta.status.finished:
                return meta, None
        return None

    def _outcome(self, workflow_id: str, meta: Meta, error: BaseException | None) -> Any:
        if meta.status is WorkflowStatus.COMPLETED:
            return self._core.decode(meta.result)
        if meta.status is WorkflowStatus.CANCELLED:
            raise WorkflowCancelled(
                f"workflow {workflow_id!r} was cancelled", context={"workflow_id": workflow_id}
            )
        kind = WorkflowTimedOut if meta.error_type == WorkflowTimedOut.__name__ else WorkflowFailed
        raise kind(
            f"workflow {workflow_id!r} failed: {meta.error}",
            context={"workflow_id": workflow_id, "error_type": meta.error_type},
        ) from error

    async def get_event(self, workflow_id: str, key: str, *, timeout: float) -> Any:
        """The value the workflow set for ``key`` (``ctx.set_event``); None after ``timeout``."""
        check_workflow_id(workflow_id)
        positive_seconds("get_event timeout", timeout)
        core = self._core
        if core.ownership is None:
            return core.decode_value(await core.wait_event(workflow_id, key, timeout))
        loop = asyncio.get_running_loop()  # partitioned: it may be set on another node
        end = loop.time() + timeout
        data = None
        while data is None and (left := end - loop.time()) > 0:
            data = await core.wait_event(workflow_id, key, min(left, core.discover_every))
        return core.decode_value(data)

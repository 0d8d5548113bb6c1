"""The ``bastion demo`` main job: a document pipeline that survives injected crashes.

A supervision tree on SQLite: a pool of :class:`~bastion.agents.TaskAgent` workers, a
:class:`~bastion.agents.CoordinatorAgent` running fetch → parse → enrich → index
workflows, a monitor and a chaos actor that kills workers at random. The closing
summary counts accepted, completed, failed-with-reason, retried, restarts and lost
(which must be 0). Killing the process and running it again with the same ``--db``
finishes the remaining work.
"""

from __future__ import annotations

from bastion._public import publish
from bastion.demo._pipeline import DemoConfig, DemoSummary, run_demo

__all__ = ["DemoConfig", "DemoSummary", "run_demo"]

publish(globals(), "bastion.demo")

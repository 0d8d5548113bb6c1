"""What every console endpoint needs: the runtime, the sampler, the journal, the token."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bastion._core._runtime import Runtime
from bastion.console._audit import AuditJournal
from bastion.console._sampler import Sampler

__all__ = ["ConsoleContext"]


@dataclass(slots=True)
class ConsoleContext:
    """The state one console app serves from (one per ``console_app`` call)."""

    runtime: Runtime
    sampler: Sampler
    journal: AuditJournal
    token: str
    reads_need_token: bool
    flags: Any = None  # a bastion.flags.Flags service, if the console shows flags
    workflows: Any = None  # a bastion.workflows.WorkflowEngine, if it shows workflows
    started: float = field(default_factory=time.time)
    frames: dict[int, bytes] = field(default_factory=dict)  # the encoded SSE frame per sample

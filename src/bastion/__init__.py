"""Bastion: Erlang/OTP-grade fault tolerance for Python agents.

Layers (imports point downward only)::

    cli/                          user surfaces; read statistics(), never internals
    agents/ resilience/ persistence/ telemetry/
    _core/                        kernel: stdlib + asyncio only
    checks/                       static checker; imports nothing from the runtime
    testing/                      helpers on top of the public API
"""

from __future__ import annotations

from bastion._core._errors import (
    ActorCrashed,
    ActorError,
    ActorNotAlive,
    BastionError,
    BusinessError,
    CallTimeout,
    Category,
    ExpectedError,
    InfrastructureError,
    MailboxFull,
    NameTaken,
    NoSuchActor,
    RestartIntensityExceeded,
    RuntimeClosed,
    Severity,
    StartFailed,
    SupervisorError,
    ValidationError,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "ActorCrashed",
    "ActorError",
    "ActorNotAlive",
    "BastionError",
    "BusinessError",
    "CallTimeout",
    "Category",
    "ExpectedError",
    "InfrastructureError",
    "MailboxFull",
    "NameTaken",
    "NoSuchActor",
    "RestartIntensityExceeded",
    "RuntimeClosed",
    "Severity",
    "StartFailed",
    "SupervisorError",
    "ValidationError",
    "__version__",
]

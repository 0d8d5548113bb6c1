"""Reading rollout orchestrators (actors registered as ``rollout:<flag>``) by their actions."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

import msgspec

from bastion._core._errors import ActorCrashed, ActorNotAlive, CallTimeout, NoSuchActor
from bastion._core._runtime import Runtime
from bastion.agents import act

__all__ = ["READ_TIMEOUT", "ROLLOUT_PREFIX", "UNAVAILABLE", "builtins", "rollout_status",
           "rollout_statuses"]  # fmt: skip

ROLLOUT_PREFIX = "rollout:"
#: Deadline of one read of an orchestrator.
READ_TIMEOUT = 2.0
UNAVAILABLE = (ActorNotAlive, CallTimeout, NoSuchActor, ActorCrashed)


def builtins(value: Any) -> Any:
    """``value`` (structs, dataclasses) as JSON-ready builtins."""
    return msgspec.to_builtins(value, builtin_types=(), enc_hook=_encode)


def _encode(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"cannot show {type(value).__name__}")


def _orchestrators(rt: Runtime) -> list[str]:
    return sorted(name for name in rt.registry if name.startswith(ROLLOUT_PREFIX))


async def rollout_status(rt: Runtime, name: str) -> dict[str, Any] | None:
    """The status of the orchestrator registered as ``name``, or None if it does not answer."""
    ref = rt.whereis(name)
    if ref is None:
        return None
    try:
        status = await act(ref, "status", call_timeout=READ_TIMEOUT)
    except UNAVAILABLE:
        return None
    data: dict[str, Any] = builtins(status)
    data["phases"] = list(data.get("phases", ()))
    return data


async def rollout_statuses(rt: Runtime) -> list[dict[str, Any]]:
    """The status of every rollout orchestrator that answers in time."""
    found = await asyncio.gather(*(rollout_status(rt, n) for n in _orchestrators(rt)))
    return [s for s in found if s is not None]

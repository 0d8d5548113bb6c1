"""Errors of the rollout orchestrator (all under :class:`bastion.BastionError`)."""

from __future__ import annotations

from bastion._core._errors import BusinessError

__all__ = ["InvalidTransition", "PreflightFailed", "RolloutError"]


class RolloutError(BusinessError):
    """A rollout refused a request; the message says why and what to do instead."""


class InvalidTransition(RolloutError):
    """A manual action that the rollout's current state does not allow."""


class PreflightFailed(RolloutError):
    """``start`` refused: a preflight check failed (the report is in ``context``)."""

"""Test helpers for code built on Bastion: virtual time, quiescence, probes."""

from __future__ import annotations

__all__: list[str] = []

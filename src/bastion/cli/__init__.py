"""The ``bastion`` command line."""

from __future__ import annotations

from bastion._public import publish
from bastion.cli._main import main

__all__ = ["main"]

publish(globals(), "bastion.cli")

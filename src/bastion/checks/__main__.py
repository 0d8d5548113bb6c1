"""``python -m bastion.checks``: same as ``bastion check``."""

from __future__ import annotations

from bastion.checks._cli import main

raise SystemExit(main())

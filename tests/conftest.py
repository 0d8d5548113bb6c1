"""Suite-wide pytest setup. Async tests run on Bastion's own plugin (virtual time)."""

from __future__ import annotations

pytest_plugins = ["pytester"]

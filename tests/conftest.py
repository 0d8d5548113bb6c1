"""Suite-wide pytest setup. Async tests run on Bastion's own plugin (virtual time)."""

from __future__ import annotations

pytest_plugins = ["pytester"]

from tests._postgres import pg_dsn, pg_schema, pg_server  # noqa: E402, F401  (fixtures)

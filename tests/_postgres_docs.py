"""Run a python example of the docs against the PostgreSQL test server, as a script."""

from __future__ import annotations

import sys
import types

import psycopg


def run_pg_example(where: str, source: str, module_name: str, pg_dsn: str, schema: str) -> None:
    """Execute ``source`` as module ``module_name``; drop the example's ``schema`` after."""
    module = types.ModuleType(module_name)
    sys.modules[module.__name__] = module  # as for a script: annotations resolve here
    try:
        exec(compile(source, where, "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
        with psycopg.connect(pg_dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

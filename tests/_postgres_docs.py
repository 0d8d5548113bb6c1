"""Run a python example of the docs against the PostgreSQL test server, as a script."""

from __future__ import annotations

import psycopg

from tests._docs import run_example


def run_pg_example(where: str, source: str, module_name: str, pg_dsn: str, schema: str) -> None:
    """Execute ``source`` as module ``module_name``; drop the example's ``schema`` after."""
    try:
        run_example(where, source, module_name)
    finally:
        with psycopg.connect(pg_dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

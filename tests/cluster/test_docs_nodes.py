"""The two-node walkthrough of docs/scale-out.md runs as written, against the test server."""

from __future__ import annotations

import sys
import types

import psycopg
import pytest

from tests._docs import section_examples

EXAMPLES = section_examples("scale-out.md", "A local two-node walkthrough")


def test_the_walkthrough_has_one_example() -> None:
    assert len(EXAMPLES) == 1


@pytest.mark.parametrize(("where", "source"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_the_walkthrough_runs(
    where: str,
    source: str,
    pg_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BASTION_PG_DSN", pg_dsn)
    module = types.ModuleType("doc_example_nodes")
    sys.modules[module.__name__] = module  # as for a script: annotations resolve here
    try:
        exec(compile(source, where, "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
        with psycopg.connect(pg_dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute("DROP SCHEMA IF EXISTS docs_cluster CASCADE")
    assert capsys.readouterr().out.split("\n")[:3] == ["5", "6", "HELLO 2"]

"""The PostgreSQL test server fixture: skipped with its reason locally, a failure in CI,
when the server binaries are missing."""

from __future__ import annotations

import pytest

INNER = """
from tests._postgres import pg_dsn, pg_server  # noqa: F401


def test_needs_a_server(pg_dsn):
    assert pg_dsn
"""


@pytest.mark.parametrize(("ci", "outcome"), [("false", "skipped"), ("true", "failed")])
def test_missing_server_binaries(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, outcome: str
) -> None:
    monkeypatch.setenv("BASTION_PG_BINDIR", str(pytester.path / "no-such-dir"))
    monkeypatch.delenv("BASTION_TEST_PG_DSN", raising=False)
    monkeypatch.setenv("CI", ci)
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_inprocess("-rsE", "-p", "no:cacheprovider", "-p", "no:asyncio")
    result.assert_outcomes(**{outcome if outcome == "skipped" else "errors": 1})
    result.stdout.fnmatch_lines(["*PostgreSQL server binaries not found*"])
    if ci == "true":
        result.stdout.fnmatch_lines(["*CI=true: run scripts/ci-postgres first*"])

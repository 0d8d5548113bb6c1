"""The two-node walkthrough of docs/scale-out.md runs as written, against the test server."""

from __future__ import annotations

import pytest

from tests._docs import section_examples
from tests._postgres_docs import run_pg_example

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
    run_pg_example(where, source, "doc_example_nodes", pg_dsn, "docs_cluster")
    assert capsys.readouterr().out.split("\n")[:3] == ["5", "6", "HELLO 2"]

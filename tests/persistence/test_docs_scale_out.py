"""The python examples of docs/scale-out.md run as written, against the test server."""

from __future__ import annotations

import pytest

from tests._docs import DOCS, section_examples
from tests._postgres_docs import run_pg_example

EXAMPLES = section_examples("scale-out.md", "PostgresStore")


def test_the_page_has_examples_and_is_linked_from_the_index() -> None:
    assert EXAMPLES
    assert "(scale-out.md)" in (DOCS / "index.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("where", "source"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_example_runs(
    where: str,
    source: str,
    pg_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BASTION_PG_DSN", pg_dsn)
    run_pg_example(where, source, "doc_example_scale_out", pg_dsn, "docs_counter")
    assert capsys.readouterr().out.split() == ["1"]

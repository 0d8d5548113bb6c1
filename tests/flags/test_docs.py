"""Run the examples of the "Flags" section of docs/rollout.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests._docs import run_example, section_examples

PAGE = Path(__file__).resolve().parents[2] / "docs" / "rollout.md"
EXAMPLES = section_examples("rollout.md", "Flags")


def test_the_section_has_examples_and_the_page_is_linked() -> None:
    assert len(EXAMPLES) >= 6
    assert "(rollout.md)" in (PAGE.parent / "index.md").read_text(encoding="utf-8")
    assert "## `bastion flags`" in (PAGE.parent / "cli.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("where", "source"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_doc_example_runs(where: str, source: str) -> None:
    assert "asyncio.run(" in source, f"{where} runs nothing"
    if "openfeature" in source:
        pytest.importorskip("openfeature", reason="the extra bastion[openfeature]")
    run_example(where, source)


def test_the_cli_page_documents_the_exit_statuses_of_bastion_flags() -> None:
    from bastion.cli._flags import EXIT_CORRUPT, EXIT_NOT_FOUND, EXIT_STORE, EXIT_USAGE
    from bastion.cli._remote import EXIT_REMOTE

    cli_page = (PAGE.parent / "cli.md").read_text(encoding="utf-8")
    section = cli_page[cli_page.index("## `bastion flags`") :].split("\n## ")[0]
    rows = {int(m[1]): m[2] for m in re.finditer(r"^\| `(\d+)` \| (.*)$", section, re.MULTILINE)}
    assert set(rows) == {0, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_STORE, EXIT_CORRUPT, EXIT_REMOTE}
    assert "no flag" in rows[EXIT_NOT_FOUND]
    assert "percentage" in rows[EXIT_USAGE]
    assert "--db" in rows[EXIT_STORE]
    assert "quarantined" in rows[EXIT_CORRUPT]

"""Run the examples of the "Progressive rollout" section of docs/rollout.md; check the
CLI page documents ``bastion rollout``'s exit statuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests._docs import run_example, section_examples

PAGE = Path(__file__).resolve().parents[2] / "docs" / "rollout.md"
EXAMPLES = section_examples("rollout.md", "Progressive rollout")


def test_the_section_has_its_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize(("where", "source"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_doc_example_runs(where: str, source: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        run_example(where, source)
    finally:
        from bastion.rollout import check_names, unregister_check

        if "release notes written" in check_names():
            unregister_check("release notes written")
    out = capsys.readouterr().out
    if "RolloutOrchestrator" in source:
        assert out.startswith("rolled_back errors alarm 0.0") or out.startswith(
            "rolled_back absolute alarm 0.0"
        ), out
    if "fitted_to(2.0)" in source:
        assert "needs a dwell of 20000 s" in out


def test_the_cli_page_documents_the_exit_statuses_of_bastion_rollout() -> None:
    from bastion.cli import _rollout as cli
    from bastion.cli._remote import EXIT_REMOTE

    page = (PAGE.parent / "cli.md").read_text(encoding="utf-8")
    section = page[page.index("## `bastion rollout`") :].split("\n## ")[0]
    rows = {int(m[1]): m[2] for m in re.finditer(r"^\| `(\d+)` \| (.*)$", section, re.MULTILINE)}
    assert set(rows) == {
        0,
        cli.EXIT_NOT_FOUND,
        cli.EXIT_USAGE,
        cli.EXIT_STORE,
        cli.EXIT_CORRUPT,
        cli.EXIT_PREFLIGHT,
        cli.EXIT_REFUSED,
        EXIT_REMOTE,
    }
    assert "preflight failed" in rows[cli.EXIT_PREFLIGHT]
    assert "quarantined" in rows[cli.EXIT_CORRUPT]

"""Run the examples of docs/loadtest.md (and its scenario file through the CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bastion.cli._loadtest import loadtest_command
from tests._docs import DOCS, page_examples, run_example

PAGE = DOCS / "loadtest.md"
TEXT = PAGE.read_text(encoding="utf-8")
EXAMPLES = page_examples("loadtest.md")


def test_the_page_has_examples_a_screenshot_and_is_linked_from_the_index() -> None:
    assert len(EXAMPLES) >= 3
    index = (PAGE.parent / "index.md").read_text(encoding="utf-8")
    assert "(loadtest.md)" in index
    assert "](img/loadtest-report.png)" in TEXT
    screenshot = PAGE.parent / "img" / "loadtest-report.png"
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("where", "source"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_doc_example_runs(where: str, source: str) -> None:
    assert "asyncio.run(" in source or "run(main, virtual=True)" in source, f"{where} runs nothing"
    run_example(where, source)


def test_the_first_example_is_a_scenario_file_for_the_cli(tmp_path: Path) -> None:
    _, source = EXAMPLES[0]
    shop = tmp_path / "shop.py"
    shop.write_text(source.split("\nasync def main()")[0], encoding="utf-8")
    result = CliRunner().invoke(
        loadtest_command,
        [f"{shop}:shop", "--rate", "100", "--duration", "0.5", "--cooldown", "1",
         "--threshold", "basket: error_rate < 1%", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr

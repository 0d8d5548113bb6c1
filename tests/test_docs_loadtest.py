"""Run the examples of docs/loadtest.md (and its scenario file through the CLI)."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from bastion.cli._loadtest import loadtest_command

PAGE = Path(__file__).resolve().parents[1] / "docs" / "loadtest.md"
TEXT = PAGE.read_text(encoding="utf-8")
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
EXAMPLES = [
    (f"loadtest.md:{TEXT.count(chr(10), 0, m.start()) + 1}", m.group(1))
    for m in _BLOCK.finditer(TEXT)
]


def test_the_page_has_examples_a_screenshot_and_is_linked_from_the_index() -> None:
    assert len(EXAMPLES) >= 3
    index = (PAGE.parent / "index.md").read_text(encoding="utf-8")
    assert "(loadtest.md)" in index
    assert "](img/loadtest-report.png)" in TEXT
    screenshot = PAGE.parent / "img" / "loadtest-report.png"
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _exec(where: str, source: str) -> dict[str, object]:
    code = compile(source, where, "exec", dont_inherit=True)
    module = types.ModuleType("docs_example")
    sys.modules[module.__name__] = module
    try:
        exec(code, module.__dict__)  # our own docs examples
    finally:
        del sys.modules[module.__name__]
    return module.__dict__


@pytest.mark.parametrize(("where", "source"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_doc_example_runs(where: str, source: str) -> None:
    assert "asyncio.run(" in source or "run(main, virtual=True)" in source, f"{where} runs nothing"
    _exec(where, source)


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

"""The code blocks of docs/workflows.md run as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._docs import page_examples, run_example

EXAMPLES = page_examples("workflows.md")


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_doc_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples write their SQLite files here
    where, source = EXAMPLES[index]
    run_example(where, source, f"doc_example_workflows_{index}")  # one module each

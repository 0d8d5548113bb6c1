"""The code blocks of docs/persistence.md and docs/agents.md run as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._docs import page_examples, run_example

EXAMPLES = [
    (doc, i, where, source)
    for doc in ("persistence.md", "agents.md")
    for i, (where, source) in enumerate(page_examples(doc))
]


@pytest.mark.parametrize(
    ("doc", "index", "where", "source"), EXAMPLES, ids=[f"{d}-{i}" for d, i, _, _ in EXAMPLES]
)
def test_doc_example_runs(
    doc: str, index: int, where: str, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # examples write their SQLite files here
    run_example(where, source, f"doc_example_{doc.split('.')[0]}_{index}")

"""The code blocks of docs/persistence.md and docs/agents.md run as written."""

from __future__ import annotations

import os
import re
import sys
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _blocks(name: str) -> list[str]:
    return BLOCK.findall((DOCS / name).read_text())


@pytest.mark.parametrize(
    ("doc", "index"),
    [(doc, i) for doc in ("persistence.md", "agents.md") for i in range(len(_blocks(doc)))],
)
def test_doc_example_runs(doc: str, index: int, tmp_path: Path) -> None:
    code = _blocks(doc)[index]
    module = types.ModuleType(f"doc_example_{doc.split('.')[0]}_{index}")
    sys.modules[module.__name__] = module  # as for a script: annotations resolve here
    cwd = os.getcwd()
    os.chdir(tmp_path)  # examples write their SQLite files here
    try:
        exec(compile(code, f"{doc}[{index}]", "exec"), module.__dict__)
    finally:
        os.chdir(cwd)
        del sys.modules[module.__name__]

"""The code blocks of docs/workflows.md run as written."""

from __future__ import annotations

import os
import re
import sys
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _blocks() -> list[str]:
    return BLOCK.findall((DOCS / "workflows.md").read_text(encoding="utf-8"))


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_doc_example_runs(index: int, tmp_path: Path) -> None:
    code = _blocks()[index]
    module = types.ModuleType(f"doc_example_workflows_{index}")
    sys.modules[module.__name__] = module  # as for a script: annotations resolve here
    cwd = os.getcwd()
    os.chdir(tmp_path)  # examples write their SQLite files here
    try:
        exec(compile(code, f"workflows.md[{index}]", "exec"), module.__dict__)
    finally:
        os.chdir(cwd)
        del sys.modules[module.__name__]

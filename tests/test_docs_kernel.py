"""Run the examples of the kernel docs, so the documentation stays true.

Every fenced ```` ```python ```` block of ``README.md``, ``docs/index.md``,
``docs/actors.md`` and ``docs/failure-semantics.md`` is a complete program (it ends with
``asyncio.run`` or ``bastion.run``); each runs in a fresh namespace and a fresh event loop.
Blocks fenced ```` ```py ```` are illustrations (signatures with ``...``) and are not run.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("README.md", "docs/index.md", "docs/actors.md", "docs/failure-semantics.md")
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _blocks(page: str) -> list[tuple[str, str]]:
    text = (ROOT / page).read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        found.append((f"{page}:{line}", match.group(1)))
    return found


EXAMPLES = [example for page in PAGES for example in _blocks(page)]


def test_every_page_has_examples() -> None:
    for page in PAGES:
        wanted = 1 if page in ("README.md", "docs/index.md") else 2
        assert len(_blocks(page)) >= wanted, f"{page} lost its runnable examples"


@pytest.mark.parametrize(("where", "source"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_doc_example_runs(where: str, source: str) -> None:
    assert "asyncio.run(" in source or "bastion.run(" in source, f"{where} runs nothing"
    code = compile(source, where, "exec", dont_inherit=True)  # no __future__ from here
    module = types.ModuleType("docs_example")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    try:
        exec(code, module.__dict__)  # our own docs examples
    finally:
        del sys.modules[module.__name__]

"""Run the examples of ``docs/observability-traces.md`` so the page stays true.

Every fenced ```` ```python ```` block is a complete program (it ends with
``asyncio.run``) run in a fresh namespace; ```` ```py ```` blocks are illustrations.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "observability-traces.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _blocks() -> list[tuple[str, str]]:
    text = PAGE.read_text(encoding="utf-8")
    return [
        (f"{PAGE.name}:{text.count(chr(10), 0, m.start()) + 1}", m.group(1))
        for m in _BLOCK.finditer(text)
    ]


EXAMPLES = _blocks()


def test_the_page_has_its_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize(("where", "source"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_doc_example_runs(where: str, source: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert "asyncio.run(" in source, f"{where} runs nothing"
    code = compile(source, where, "exec", dont_inherit=True)
    module = types.ModuleType("docs_example")
    sys.modules[module.__name__] = module
    try:
        exec(code, module.__dict__)  # our own docs examples
    finally:
        del sys.modules[module.__name__]
    out = capsys.readouterr()
    if "demo document" in source:
        assert "cast FinishLine  doc-00000" in out.out
    if "Fragile" in source:
        assert "ERROR actor.crash req-7 Fragile(#1) crashed: KeyError: 'sku-1'" in out.err

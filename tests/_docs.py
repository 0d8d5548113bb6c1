"""The python examples of a page of ``docs/``, for the tests that run them."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def section_examples(page: str, heading: str) -> list[tuple[str, str]]:
    """``(page:line, source)`` of every python block under ``## heading`` of ``page``."""
    text = (DOCS / page).read_text(encoding="utf-8")
    pattern = rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)"
    section = re.search(pattern, text, re.MULTILINE | re.DOTALL)
    assert section is not None, f"docs/{page} has no '## {heading}' section"
    start = section.start(1)
    return [
        (f"{page}:{text.count(chr(10), 0, start + m.start()) + 1}", m.group(1))
        for m in _BLOCK.finditer(section.group(1))
    ]

"""The python examples of a page of ``docs/``, and running one, for the tests that run them.

Every fenced ```` ```python ```` block is a complete program; ```` ```py ```` blocks are
illustrations and are not collected.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def page_examples(page: str, folder: Path = DOCS) -> list[tuple[str, str]]:
    """``(page:line, source)`` of every python block of ``folder / page``."""
    return _examples(page, (folder / page).read_text(encoding="utf-8"), 0, None)


def section_examples(page: str, heading: str) -> list[tuple[str, str]]:
    """``(page:line, source)`` of every python block under ``## heading`` of ``page``."""
    text = (DOCS / page).read_text(encoding="utf-8")
    pattern = rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)"
    section = re.search(pattern, text, re.MULTILINE | re.DOTALL)
    assert section is not None, f"docs/{page} has no '## {heading}' section"
    return _examples(page, text, section.start(1), section.end(1))


def _examples(page: str, text: str, start: int, end: int | None) -> list[tuple[str, str]]:
    return [
        (f"{page}:{text.count(chr(10), 0, m.start()) + 1}", m.group(1))
        for m in _BLOCK.finditer(text, start, len(text) if end is None else end)
    ]


def run_example(where: str, source: str, module_name: str = "docs_example") -> dict[str, object]:
    """Run ``source`` as a script would run (no ``__future__`` import of the caller's),
    in a fresh module ``module_name`` registered while it runs (dataclasses and
    annotations look their module up); the module's namespace after."""
    code = compile(source, where, "exec", dont_inherit=True)
    module = types.ModuleType(module_name)
    sys.modules[module.__name__] = module
    try:
        exec(code, module.__dict__)  # our own docs examples
    finally:
        del sys.modules[module.__name__]
    return module.__dict__

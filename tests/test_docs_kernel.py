"""Run the examples of the kernel docs, so the documentation stays true.

Every fenced ```` ```python ```` block of ``README.md``, ``docs/index.md``,
``docs/actors.md`` and ``docs/failure-semantics.md`` is a complete program (it ends with
``asyncio.run`` or ``bastion.run``); each runs in a fresh namespace and a fresh event loop.
Blocks fenced ```` ```py ```` are illustrations (signatures with ``...``) and are not run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._docs import page_examples, run_example

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("README.md", "docs/index.md", "docs/actors.md", "docs/failure-semantics.md")


def _blocks(page: str) -> list[tuple[str, str]]:
    return page_examples(page, ROOT)


EXAMPLES = [example for page in PAGES for example in _blocks(page)]


def test_every_page_has_examples() -> None:
    for page in PAGES:
        wanted = 1 if page in ("README.md", "docs/index.md") else 2
        assert len(_blocks(page)) >= wanted, f"{page} lost its runnable examples"


@pytest.mark.parametrize(("where", "source"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_doc_example_runs(where: str, source: str) -> None:
    assert "asyncio.run(" in source or "bastion.run(" in source, f"{where} runs nothing"
    run_example(where, source)

"""Run the examples of ``docs/observability-traces.md`` so the page stays true.

Every fenced ```` ```python ```` block is a complete program (it ends with
``asyncio.run``) run in a fresh namespace; ```` ```py ```` blocks are illustrations.
"""

from __future__ import annotations

import pytest

from tests._docs import page_examples, run_example

EXAMPLES = page_examples("observability-traces.md")


def test_the_page_has_its_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize(("where", "source"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_doc_example_runs(where: str, source: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert "asyncio.run(" in source, f"{where} runs nothing"
    run_example(where, source)
    out = capsys.readouterr()
    if "demo document" in source:
        assert "cast FinishLine  doc-00000" in out.out
    if "Fragile" in source:
        assert "ERROR actor.crash req-7 Fragile(#1) crashed: KeyError: 'sku-1'" in out.err

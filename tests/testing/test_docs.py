"""Every ``python`` block of docs/testing.md runs, as one test file, and passes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_docs_testing_md_examples_pass(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = BLOCK.findall(DOC.read_text())
    assert len(blocks) >= 5
    for i, block in enumerate(blocks):
        pytester.makepyfile(**{f"test_doc_{i}": block})
    monkeypatch.setenv("BASTION_REAL_TIME", "0")  # the examples assert virtual readings
    # the doc's premise: Bastion is the only async test plugin (its mixing recipe is run by
    # tests/compat with pytest-asyncio and anyio loaded)
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-p", "no:asyncio", "-p", "no:anyio", "-q"
    )
    result.assert_outcomes(passed=9)

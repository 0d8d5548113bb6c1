"""docs/checks.md documents every rule, and its Python examples run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bastion.checks import BUILTIN_RULES, explain

DOC = Path(__file__).resolve().parents[2] / "docs" / "checks.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


@pytest.mark.parametrize("rule", BUILTIN_RULES, ids=lambda r: r.code)
def test_every_rule_is_documented_and_explained(rule: type) -> None:
    text = DOC.read_text()
    assert f"### {rule.code} {rule.name}" in text
    assert f"| {rule.code} | `{rule.name}` |" in text
    explained = explain(rule.code)
    assert explained.startswith(f"{rule.code} {rule.name}: {rule.summary}")
    assert len(rule.explanation.split()) >= 20


def test_rule_names_are_the_documented_stable_names() -> None:
    names = {r.name for r in BUILTIN_RULES}
    assert names == {
        "raw-send", "unsupervised-spawn", "process-global-state", "unbounded-timeout",
        "monitor-leak", "sleep-in-test", "catch-all", "persistent-field",
        "unjustified-suppression",
    }  # fmt: skip


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_doc_examples_run(block: str) -> None:
    exec(compile(block, str(DOC), "exec"), {"__name__": "doc_example"})

"""Run the examples of docs/observability.md and check its metric table against the code."""

from __future__ import annotations

import asyncio
import re

import pytest

import bastion
from bastion.telemetry import MetricKind
from tests._docs import DOCS, page_examples, run_example

PAGE = DOCS / "observability.md"
TEXT = PAGE.read_text(encoding="utf-8")
EXAMPLES = page_examples("observability.md")


def test_the_page_has_examples_and_is_linked_from_the_index() -> None:
    assert len(EXAMPLES) >= 5
    index = (PAGE.parent / "index.md").read_text(encoding="utf-8")
    assert "(observability.md)" in index


@pytest.mark.parametrize(("where", "source"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_doc_example_runs(where: str, source: str) -> None:
    assert "asyncio.run(" in source, f"{where} runs nothing"
    run_example(where, source)


def _registered() -> dict[str, str]:
    async def collect() -> dict[str, str]:
        async with bastion.open_runtime() as rt:
            return {
                f.name + ("_total" if f.kind is MetricKind.COUNTER else ""): f.kind.value
                for f in rt.metrics.collect()
            }

    return asyncio.run(collect())


def test_the_table_lists_every_metric_the_runtime_registers() -> None:
    rows = dict(re.findall(r"^\| `(bastion_\w+)` \| (\w+) \|", TEXT, re.MULTILINE))
    assert rows == _registered()

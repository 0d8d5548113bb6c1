"""Every ``python`` code block of docs/resilience.md runs, in order, as written."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from bastion.resilience import breakers
from bastion.testing import new_loop

DOC = Path(__file__).resolve().parents[2] / "docs" / "resilience.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_doc_has_an_example_for_each_piece() -> None:
    text = "\n".join(BLOCKS)
    for piece in ("normalize(", "error_scope(", "set_context_mode(", "network_boundary",
                  "protect_critical_path(", "@Retry(", "RetryBudget(", "circuit_breaker(",
                  "Bulkhead(", "isolate("):  # fmt: skip
        assert piece in text, piece


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_doc_block_runs(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    def run_virtual(coro: Coroutine[Any, Any, Any]) -> Any:
        with asyncio.Runner(loop_factory=lambda: new_loop(virtual=True)) as runner:
            return runner.run(coro)

    monkeypatch.setattr(asyncio, "run", run_virtual)  # the examples' sleeps take no real time
    breakers.remove("search-api")
    namespace: dict[str, object] = {"__name__": f"resilience_doc_{index}"}
    exec(compile(BLOCKS[index], f"{DOC.name}[block {index}]", "exec"), namespace)

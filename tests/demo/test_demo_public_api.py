"""The demo is what users copy: public API only, no polling, typed action results."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import bastion
from bastion.agents import Agent, act, action

DEMO = Path(__file__).resolve().parents[2] / "src" / "bastion" / "demo"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", sorted(DEMO.glob("*.py")), ids=lambda p: p.name)
def test_the_demo_imports_only_public_bastion_modules(path: Path) -> None:
    private = [
        name
        for name in _imports(path)
        if name.startswith("bastion.")
        and any(part.startswith("_") for part in name.split(".")[1:])
        and not name.startswith("bastion.demo.")
        and name != "bastion._public"  # package plumbing: every public __init__ publishes
    ]
    assert private == []


def test_the_pipeline_waits_on_signals_not_on_a_sleep_loop() -> None:
    source = (DEMO / "_pipeline.py").read_text()
    assert "asyncio.sleep" not in source
    assert '"workflow.*"' in source


@dataclass(frozen=True)
class Count:
    value: int


class Counter(Agent):
    @action
    def count(self) -> Count:
        return Count(3)

    @action
    def wrong(self) -> str:
        return "three"


async def test_act_returns_a_typed_result_and_checks_it() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Counter)
        counted = await act(ref, "count", returns=Count)
        assert counted.value == 3  # typed: Count, not Any
        with pytest.raises(TypeError, match="action 'wrong' returned str, expected Count"):
            await act(ref, "wrong", returns=Count)
        assert await act(ref, "count") == Count(3)  # untyped calls are unchanged

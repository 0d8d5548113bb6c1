"""An async test that asks for no plugin in particular."""

from __future__ import annotations

from conftest import report


async def test_unmarked() -> None:
    report("unmarked")

"""anyio's own tests, beside Bastion's."""

from __future__ import annotations

import pytest

from conftest import report


@pytest.mark.anyio
async def test_marked_anyio(answer: int) -> None:
    report("marked_anyio")
    assert answer == 42

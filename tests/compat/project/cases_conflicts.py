"""Tests that need Bastion but carry another plugin's mark: a clear error, before running."""

from __future__ import annotations

import pytest


@pytest.mark.asyncio
async def test_asyncio_mark_with_rt(rt: object) -> None:
    raise AssertionError("must not run")


@pytest.mark.anyio
async def test_anyio_mark_with_clock(clock: object) -> None:
    raise AssertionError("must not run")

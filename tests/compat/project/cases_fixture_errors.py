"""Fixture shapes Bastion cannot serve on the test's loop: clear errors."""

from __future__ import annotations

import pytest


@pytest.fixture
def sync_on_async(answer: int) -> int:
    return answer + 1


@pytest.fixture(scope="module")
async def module_wide() -> int:
    return 1


async def test_sync_fixture_fed_an_async_one(rt: object, sync_on_async: int) -> None:
    raise AssertionError("must not run")


async def test_module_scoped_async_fixture(rt: object, module_wide: int) -> None:
    raise AssertionError("must not run")

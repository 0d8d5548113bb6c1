"""pytest-asyncio's own tests, beside Bastion's."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from conftest import report


@pytest_asyncio.fixture
async def greeting() -> str:
    await asyncio.sleep(0)
    return "hello"


@pytest.mark.asyncio
async def test_marked_asyncio(greeting: str) -> None:
    report("marked_asyncio")
    assert greeting == "hello"


async def test_bastion_with_a_pytest_asyncio_fixture(rt: object, greeting: str) -> None:
    report("bastion_with_pytest_asyncio_fixture")
    assert greeting == "hello"

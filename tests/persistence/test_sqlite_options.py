"""``SQLiteStore.open`` forwards its options to the constructor: written and checked once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.persistence import SQLiteStore


async def test_open_rejects_an_unknown_option_before_creating_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with pytest.raises(TypeError, match="op_timout"):
        await SQLiteStore.open(path, op_timout=1.0)
    assert not path.exists()


async def test_open_validates_options_where_the_constructor_does(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with pytest.raises(ValueError, match="op_timeout"):
        await SQLiteStore.open(path, op_timeout=0)
    assert not path.exists()

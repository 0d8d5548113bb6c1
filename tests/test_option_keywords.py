"""Keyword options are typed (PEP 692): a type checker rejects a misspelled one."""

from __future__ import annotations

import inspect
import re
import textwrap
import typing
from pathlib import Path

import pytest

import bastion
from bastion._core._options import RuntimeOptionKeywords
from bastion.persistence import SQLiteStore
from bastion.persistence._sqlite_options import SQLiteStoreOptions


def test_the_runtime_keywords_mirror_the_runtime_options() -> None:
    assert typing.get_type_hints(RuntimeOptionKeywords) == typing.get_type_hints(
        bastion.RuntimeOptions
    )
    assert RuntimeOptionKeywords.__required_keys__ == frozenset()


def test_the_store_keywords_mirror_the_store_constructor() -> None:
    hints = typing.get_type_hints(SQLiteStore.__init__)
    keyword_only = [
        name
        for name, parameter in inspect.signature(SQLiteStore.__init__).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    assert typing.get_type_hints(SQLiteStoreOptions) == {name: hints[name] for name in keyword_only}
    assert SQLiteStoreOptions.__required_keys__ == frozenset()


_CLIENT = """
import bastion
from bastion.persistence import SQLiteStore


async def main() -> None:
    async with bastion.open_runtime(call_timout=1.0):  # misspelled
        pass
    await SQLiteStore.open("state.db", op_timout=1.0)  # misspelled
    bastion.run(main, mailbox_capacty=3)  # misspelled
    async with bastion.open_runtime(call_timeout=1.0, metrics=False, max_threads=None):
        pass
    await SQLiteStore.open("state.db", op_timeout=1.0, writer="loop")
    bastion.run(main, handle_signals=False, shutdown_timeout=2.0)
"""


def test_mypy_rejects_a_misspelled_option_and_accepts_the_right_ones(
    tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    api = pytest.importorskip("mypy.api")
    client = tmp_path / "client.py"
    client.write_text(textwrap.dedent(_CLIENT), encoding="utf-8")
    pytest_cache = getattr(pytestconfig, "cache", None)  # absent under -p no:cacheprovider
    cache = pytest_cache.mkdir("mypy-option-keywords") if pytest_cache else tmp_path
    report, errors, _status = api.run(
        ["--strict", "--no-error-summary", "--cache-dir", str(cache), str(client)]
    )
    assert errors == ""
    found = re.findall(r'client\.py:(\d+): error: Unexpected keyword argument "(\w+)"', report)
    assert found == [("7", "call_timout"), ("9", "op_timout"), ("10", "mailbox_capacty")], report
    assert report.count(": error:") == 3, report

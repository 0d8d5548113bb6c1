"""Telemetry event names live in one catalogue; emitters never spell them inline."""

from __future__ import annotations

import ast
from pathlib import Path

import bastion
from bastion._core import _event_names

SRC = Path(bastion.__file__).parent


def _inline_event_literals(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple) and node.elts:
            first = node.elts[0]
            if isinstance(first, ast.Constant) and first.value == "bastion":
                lines.append(node.lineno)
    return lines


def test_no_module_spells_an_event_name_outside_the_catalogue() -> None:
    found = {}
    for path in SRC.rglob("*.py"):
        if path.name == "_event_names.py" or "checks" in path.parts:
            continue
        lines = _inline_event_literals(path)
        if lines and path.name != "_capture.py":  # _capture's docstring example only
            found[str(path.relative_to(SRC))] = lines
    assert found == {}


def test_the_catalogue_names_are_unique_tuples_of_str_under_bastion() -> None:
    names = _event_names.ALL
    assert len(names) == len(set(names)) > 30
    for name in names:
        assert isinstance(name, tuple)
        assert name[0] == "bastion"
        assert all(type(part) is str for part in name), name  # plain str: hash-equal keys

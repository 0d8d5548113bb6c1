"""bastion.flags sits above the runtime layers and below the user surfaces (DESIGN §2)."""

from __future__ import annotations

import ast
from pathlib import Path

import bastion.flags

FORBIDDEN = ("bastion.cli", "bastion.testing", "bastion.demo", "bastion.agents", "bastion.rollout")


def test_flags_import_only_lower_layers() -> None:
    folder = Path(bastion.flags.__file__).parent
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"

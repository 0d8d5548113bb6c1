"""Public names: sorted, documented, importable; the layering points downward."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import bastion

SRC = Path(bastion.__file__).parent
PUBLIC_PACKAGES = ["bastion", "bastion.telemetry", "bastion.lowlevel", "bastion.testing"]


@pytest.mark.parametrize("module_name", PUBLIC_PACKAGES)
def test_every_exported_name_exists_and_has_a_docstring(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, f"{module_name}.{name} has no docstring"


def test_top_level_all_is_sorted_and_unique() -> None:
    names = [n for n in bastion.__all__ if not n.startswith("__")]
    assert len(names) == len(set(names))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_kernel_imports_only_the_standard_library_and_itself() -> None:
    import sys

    stdlib = sys.stdlib_module_names
    for path in (SRC / "_core").glob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "bastion":
                assert name.startswith("bastion._core"), f"{path.name} imports {name}"
            else:
                assert top in stdlib or top == "__future__", f"{path.name} imports {name}"


# Lower layers must not import higher ones (DESIGN §2).
FORBIDDEN = {
    "_core": (
        "bastion.persistence",
        "bastion.resilience",
        "bastion.agents",
        "bastion.cli",
        "bastion.testing",
        "bastion.checks",
        "bastion.telemetry",
    ),
    "persistence": ("bastion.agents", "bastion.cli", "bastion.testing", "bastion.resilience"),
    "resilience": ("bastion.agents", "bastion.cli", "bastion.testing"),
    "agents": ("bastion.cli", "bastion.testing"),
    "checks": (
        "bastion._core",
        "bastion.agents",
        "bastion.persistence",
        "bastion.resilience",
        "bastion.testing",
        "bastion.cli",
        "bastion.telemetry",
    ),
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_point_downward(layer: str) -> None:
    folder = SRC / layer
    if not folder.exists():
        pytest.skip(f"{layer} not present")
    for path in folder.rglob("*.py"):
        for name in _imports(path):
            assert not name.startswith(FORBIDDEN[layer]), f"{path} imports {name}"


def test_every_module_imports() -> None:
    for info in pkgutil.walk_packages([str(SRC)], "bastion."):
        if info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)

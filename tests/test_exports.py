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


def _is_public(dotted: str) -> bool:
    return not any(part.startswith("_") for part in dotted.split("."))


# Every public module of the package (no ``_`` in its dotted path), found, not listed.
PUBLIC_MODULES = [
    "bastion",
    *sorted(
        info.name for info in pkgutil.walk_packages([str(SRC)], "bastion.") if _is_public(info.name)
    ),
]


def test_the_public_modules_are_found() -> None:
    expected = {
        "bastion.agents", "bastion.checks", "bastion.cli", "bastion.demo", "bastion.lowlevel",
        "bastion.persistence", "bastion.resilience", "bastion.resilience.legacy",
        "bastion.telemetry", "bastion.testing",
    }  # fmt: skip
    assert expected <= set(PUBLIC_MODULES)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_sorted_casefolded_and_unique(module_name: str) -> None:
    exported = importlib.import_module(module_name).__all__
    assert exported == sorted(exported, key=str.casefold)
    assert len(exported) == len(set(exported))


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_exported_name_exists_and_has_a_docstring(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, f"{module_name}.{name} has no docstring"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_exported_class_and_function_reports_a_public_importable_module(
    module_name: str,
) -> None:
    module = importlib.import_module(module_name)
    for name in module.__all__:
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        home = obj.__module__
        assert _is_public(home), f"{module_name}.{name}.__module__ is {home!r}"
        assert getattr(importlib.import_module(home), obj.__name__) is obj, name


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_no_exported_name_is_an_alias_of_another(module_name: str) -> None:
    module = importlib.import_module(module_name)
    by_identity: dict[int, str] = {}
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, str | int | float | bool):
            continue  # equal constants may share an object
        other = by_identity.setdefault(id(obj), name)
        assert other == name, f"{module_name}: {name} is an alias of {other}"


def test_removed_aliases_stay_removed() -> None:
    import bastion.resilience
    import bastion.testing

    gone = {
        bastion: ("DynamicSupervisor",),
        bastion.resilience: ("retry", "set_testing", "State", "ContextMode", "context_mode",
                             "set_context_mode"),
    }  # fmt: skip
    for module, names in gone.items():
        for name in names:
            assert not hasattr(module, name), f"{module.__name__}.{name}"
    assert not hasattr(bastion.testing.VirtualClock, "run_until_idle")


def test_public_classes_keep_resolvable_annotations() -> None:
    import typing

    import bastion.agents

    for cls in (bastion.agents.TaskOutcome, bastion.agents.Workflow, bastion.ChildSpec,
                bastion.ActorStatistics):  # fmt: skip
        assert typing.get_type_hints(cls), cls


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
    "cluster": ("bastion.cli", "bastion.testing", "bastion.console", "bastion.rollout"),
    "loadtest": ("bastion.cli", "bastion.testing"),
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


# Objects the runtime makes and hands out; a user-made one would not be wired to it.
RUNTIME_OWNED = (
    "ActorRef",
    "DeadLetters",
    "Registry",
    "ReplyHandle",
    "Runtime",
    "SupervisorHandle",
    "TaskSupervisor",
    "Timer",
)


@pytest.mark.parametrize("name", RUNTIME_OWNED)
def test_runtime_owned_classes_cannot_be_constructed(name: str) -> None:
    cls = getattr(bastion, name)
    with pytest.raises(TypeError, match=rf"^bastion\.{name} has no public constructor; \w"):
        cls()
    with pytest.raises(TypeError, match="no public constructor"):
        cls(None, None)  # whatever the arguments


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_no_public_member_of_an_exported_class_is_a_kernel_internal(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in module.__all__:
        cls = getattr(module, name)
        if not inspect.isclass(cls):
            continue
        for attr, member in vars(cls).items():
            if attr.startswith("_"):
                continue
            doc = inspect.getdoc(member) or ""
            assert "(kernel" not in doc, f"{module_name}.{name}.{attr} is documented as internal"

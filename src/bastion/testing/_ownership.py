"""Which ``async def`` tests the Bastion plugin runs, beside pytest-asyncio, anyio and trio.

A test *opts in* with the ``bastion`` marker or by requesting one of Bastion's fixtures
(directly or through another fixture). Another plugin *claims* a test with its own mark
(``asyncio``, ``anyio``, ``trio``) or, for anyio, its ``anyio_backend`` fixture.

``bastion_mode`` (ini option, or ``--bastion-mode``):

* ``strict``: Bastion runs only the tests that opt in;
* ``auto``: Bastion runs every async test no other plugin claims (also the ones
  pytest-asyncio's own auto mode would take);
* unset: ``strict`` when pytest-asyncio or pytest-trio is loaded, or anyio's plugin is in
  its auto mode; else ``auto``. anyio's plugin in its default strict mode does not count:
  anyio is installed with httpx, openai and starlette whether or not a project tests with
  it, its tests carry ``@pytest.mark.anyio`` (which Bastion leaves alone), and an unmarked
  async test has no other runner.

A test that opts in *and* is claimed by another plugin is a usage error, said before it
runs: Bastion's fixtures live on Bastion's loop, which the other plugin does not use.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import pytest

__all__ = [
    "BASTION_FIXTURES",
    "MODE_INI",
    "Mode",
    "conflict",
    "owns",
    "reclaim_from_pytest_asyncio",
    "resolve_mode",
]

MODE_INI = "bastion_mode"
MODES = ("auto", "strict")
BASTION_FIXTURES = frozenset({"runtime", "rt", "clock", "probe", "make_probe"})

# pytest plugin name -> what users know it as
_OTHER_PLUGINS = {
    "asyncio": "pytest-asyncio",
    "anyio": "anyio (anyio_mode = auto)",
    "trio": "pytest-trio",
}
# marker -> the plugin that runs tests carrying it
_FOREIGN_MARKS = {"asyncio": "pytest-asyncio", "anyio": "anyio", "trio": "pytest-trio"}

_MODE_KEY = pytest.StashKey["Mode"]()


@dataclass(frozen=True)
class Mode:
    """The effective ``bastion_mode`` and why (shown in the pytest header)."""

    name: str
    reason: str

    @property
    def takes_all(self) -> bool:
        """Whether Bastion runs every async test no other plugin claims."""
        return self.name == "auto"


def add_options(parser: pytest.Parser) -> None:
    """Register the ``bastion_mode`` ini option and ``--bastion-mode``."""
    help_text = (
        "which async tests Bastion runs: 'strict' (only tests with the bastion marker or "
        "its fixtures) or 'auto' (every async test no other plugin claims); unset: strict "
        "when pytest-asyncio, pytest-trio or anyio's auto mode is on, else auto"
    )
    parser.addini(MODE_INI, help_text, default="")
    parser.getgroup("bastion").addoption(
        "--bastion-mode", dest="bastion_mode", default=None, help=help_text
    )


def resolve_mode(config: pytest.Config) -> Mode:
    """The effective mode for this run (computed once, then cached on the config)."""
    if _MODE_KEY in config.stash:
        return config.stash[_MODE_KEY]
    option = config.getoption("bastion_mode", default=None)
    raw, where = (option, "--bastion-mode") if option else (config.getini(MODE_INI), MODE_INI)
    value = str(raw or "").strip().lower()
    if value in MODES:
        mode = Mode(value, f"set by {where}")
    elif value:
        raise pytest.UsageError(f"{where} must be one of {MODES}, got {raw!r}")
    else:
        others = [label for name, label in _OTHER_PLUGINS.items() if _claims_all(config, name)]
        if others:
            mode = Mode("strict", f"{' and '.join(others)} loaded; set {MODE_INI} to choose")
        else:
            mode = Mode("auto", "no other async test plugin loaded")
    config.stash[_MODE_KEY] = mode
    return mode


def _claims_all(config: pytest.Config, name: str) -> bool:
    """Whether plugin ``name`` is loaded and owns async tests a Bastion-only run would take."""
    manager = config.pluginmanager
    if not manager.has_plugin(name) or manager.is_blocked(name):
        return False
    if name != "anyio":
        return True
    option = config.getoption("anyio_mode", default=None)
    return str(option or config.getini("anyio_mode")) == "auto"


def opt_in(item: pytest.Function) -> list[str]:
    """Why ``item`` asks for Bastion: its marker, its fixtures (empty: it does not)."""
    reasons = []
    if item.get_closest_marker("bastion") is not None:
        reasons.append("@pytest.mark.bastion")
    requested = BASTION_FIXTURES.intersection(item._fixtureinfo.argnames)
    fixtures = sorted(requested or BASTION_FIXTURES.intersection(item.fixturenames))
    if fixtures:
        reasons.append(f"fixtures {fixtures}")
    return reasons


def foreign_owner(item: pytest.Function) -> tuple[str, str, str] | None:
    """The other plugin that claims ``item``, how, and how to give it back, or ``None``."""
    for mark, plugin in _FOREIGN_MARKS.items():
        if item.get_closest_marker(mark) is not None:
            how = f"@pytest.mark.{mark}"
            return plugin, how, f"remove {how} so Bastion runs it"
    if "anyio_backend" in item.fixturenames:
        return (
            "anyio",
            "it requests anyio_backend, which anyio_mode = auto gives every async test",
            "keep anyio_mode = strict (anyio's default) and do not request anyio_backend",
        )
    return None


def _is_async_test(item: pytest.Item) -> bool:
    return isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj)


def owns(item: pytest.Item) -> bool:
    """Whether the Bastion plugin runs ``item`` (an async test it may take, no conflict)."""
    if not isinstance(item, pytest.Function) or not _is_async_test(item):
        return False
    if foreign_owner(item) is not None:
        return False
    return bool(opt_in(item)) or resolve_mode(item.config).takes_all


def conflict(item: pytest.Item) -> str | None:
    """The usage error for a test that needs Bastion but another plugin runs, or ``None``."""
    if not isinstance(item, pytest.Function):
        return None
    reasons = opt_in(item)
    owner = foreign_owner(item)
    if not reasons or owner is None:
        return None
    plugin, how, remedy = owner
    return (
        f"{item.nodeid} uses Bastion ({', '.join(reasons)}) but {plugin} runs it ({how}). "
        "Bastion's fixtures and virtual time live on the event loop Bastion runs the test "
        f"on: {remedy}, or use {plugin}'s own fixtures instead of Bastion's."
    )


def _explicit_asyncio_mark(collector: pytest.Collector, obj: object) -> bool:
    marks = getattr(obj, "pytestmark", [])
    if not isinstance(marks, list):
        marks = [marks]
    if any(getattr(mark, "name", None) == "asyncio" for mark in marks):
        return True
    return collector.get_closest_marker("asyncio") is not None


def _converted_by_pytest_asyncio(item: object) -> bool:
    return any(cls.__name__ == "PytestAsyncioFunction" for cls in type(item).__mro__)


def reclaim_from_pytest_asyncio(collector: pytest.Collector, obj: object, result: Any) -> Any:
    """Undo pytest-asyncio's *auto-mode* conversion of the tests Bastion owns.

    In ``asyncio_mode = auto`` pytest-asyncio marks and converts every async test at
    collection. A test that opts into Bastion (or every unclaimed one in Bastion's auto
    mode) goes back to a plain ``pytest.Function`` without the added mark; an explicit
    ``@pytest.mark.asyncio`` is left alone (a conflict, reported at setup).
    """
    if not result or _explicit_asyncio_mark(collector, obj):
        return result
    items = list(result) if isinstance(result, list | tuple) else [result]
    changed = False
    for index, item in enumerate(items):
        if not _converted_by_pytest_asyncio(item):
            continue
        if not (opt_in(item) or resolve_mode(item.config).takes_all):
            continue
        plain = _plain_function(item)
        if owns(plain):
            items[index] = plain
            changed = True
    if not changed:
        return result
    return items


def _plain_function(item: Any) -> pytest.Function:
    plain = pytest.Function.from_parent(
        item.parent,
        name=item.name,
        callspec=getattr(item, "callspec", None),
        callobj=item.obj,
        fixtureinfo=item._fixtureinfo,
        keywords={k: v for k, v in item.keywords.items() if k != "asyncio"},
        originalname=item.originalname,
    )
    plain.own_markers = [mark for mark in item.own_markers if mark.name != "asyncio"]
    return plain

"""``path/to/scenarios.py[:name]``: import a scenario file and find its load test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from bastion.loadtest._errors import LoadTestError, ScenarioNotFound
from bastion.loadtest._scenario import LoadTest, Scenario

__all__ = ["load_target"]


def load_target(spec: str) -> LoadTest:
    """The load test ``spec`` names: ``file.py`` (its only ``LoadTest``, else its
    ``Scenario`` objects) or ``file.py:name`` (a ``LoadTest``, a ``Scenario``, a list
    of them, or an async function). Errors are one line: :class:`ScenarioNotFound` for
    a missing file or name, :class:`LoadTestError` when the file fails to import."""
    path_text, _, name = spec.rpartition(":") if _has_name(spec) else (spec, "", "")
    path = Path(path_text)
    if not path.is_file():
        raise ScenarioNotFound(f"no scenario file {path_text!r}")
    module = _import(path)
    found = vars(module)
    if name:
        if name not in found:
            known = sorted(k for k, v in found.items() if _is_target(v))
            raise ScenarioNotFound(f"{path_text} has no {name!r}; it defines: {known or 'none'}")
        try:
            return LoadTest.of(found[name])
        except (TypeError, ValueError) as exc:
            raise ScenarioNotFound(f"{path_text}:{name} is not a load test: {exc}") from None
    tests = {k: v for k, v in found.items() if isinstance(v, LoadTest)}
    if len(tests) == 1:
        return next(iter(tests.values()))
    if len(tests) > 1:
        raise ScenarioNotFound(f"{path_text} defines several load tests, name one: {sorted(tests)}")
    scenarios = [v for v in found.values() if isinstance(v, Scenario)]
    if not scenarios:
        raise ScenarioNotFound(f"{path_text} defines no LoadTest or Scenario")
    return LoadTest(scenarios)


def _has_name(spec: str) -> bool:
    head, sep, tail = spec.rpartition(":")
    return bool(sep) and bool(head) and "/" not in tail and "\\" not in tail


def _is_target(value: object) -> bool:
    return isinstance(value, LoadTest | Scenario)


def _import(path: Path) -> object:
    module_name = f"bastion_loadtest_scenarios_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ScenarioNotFound(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # the user's file failed: one line, cause chained
        del sys.modules[module_name]
        raise LoadTestError(f"cannot import {path}: {type(exc).__name__}: {exc}") from exc
    return module

"""``bastion check``: the static checker for supervision, delivery and timeout discipline.

Stdlib only, and independent of the runtime: nothing here imports the rest of bastion.
One single-pass ``ast`` engine (:mod:`bastion.checks._engine`) feeds three front ends:
the CLI (:func:`main`), the flake8 plugin (``BAS`` entry point) and the library API
(:func:`check_paths`, :func:`find_sleeps`). Rules are :class:`Rule` subclasses;
third-party rules register through the ``bastion.checks`` entry-point group.
"""

from __future__ import annotations

import inspect

from bastion.checks._baseline import Baseline
from bastion.checks._cli import explain, main
from bastion.checks._config import AllowEntry, Config, ConfigError, find_pyproject, load_config
from bastion.checks._context import FileContext
from bastion.checks._file import check_source
from bastion.checks._model import Finding, Rule, Suppression
from bastion.checks._registry import BUILTIN_RULES, ENTRY_POINT_GROUP, all_rules
from bastion.checks._runner import Report, check_paths
from bastion.checks._sleepfinder import find_sleeps
from bastion.checks._sleeps import SleepSite

__all__ = [
    "all_rules",
    "AllowEntry",
    "Baseline",
    "BUILTIN_RULES",
    "check_paths",
    "check_source",
    "Config",
    "ConfigError",
    "ENTRY_POINT_GROUP",
    "explain",
    "FileContext",
    "find_pyproject",
    "find_sleeps",
    "Finding",
    "load_config",
    "main",
    "Report",
    "Rule",
    "SleepSite",
    "Suppression",
]

# Report the public module (as bastion._public.publish does for the runtime packages;
# the checker imports nothing outside bastion.checks, and none of these classes has its
# annotations resolved at run time, so the plain rewrite suffices).
for _obj in (globals()[_name] for _name in __all__):
    _defined = isinstance(_obj, type) or inspect.isfunction(_obj)
    if _defined and _obj.__module__.startswith("bastion.checks._"):
        _obj.__module__ = __name__
del _obj, _defined

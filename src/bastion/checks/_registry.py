"""Which rules exist: the built-ins plus third-party rules from entry points."""

from __future__ import annotations

import re
from functools import cache
from importlib.metadata import entry_points

from bastion.checks._config import ConfigError
from bastion.checks._model import CODE_PATTERN, PARSE_ERROR, Rule
from bastion.checks._rules_except import BareExcept, BroadExcept, BroadSuppress
from bastion.checks._rules_monitor import DiscardedMonitor, MonitorWithoutDemonitor
from bastion.checks._rules_persist import PersistentFields
from bastion.checks._rules_send import MailboxAccess, RawSend
from bastion.checks._rules_spawn import UnsupervisedSpawn
from bastion.checks._rules_state import GlobalWrite, MutatedModuleContainer, ThreadLocal
from bastion.checks._rules_suppress import (
    AllowlistWithoutReason,
    NoqaWithoutReason,
    UnusedAllowlistEntry,
    UnusedNoqa,
)
from bastion.checks._rules_tests import SleepInTest
from bastion.checks._rules_timeout import BlockingWaitWithoutTimeout, InfiniteTimeout

__all__ = ["BUILTIN_RULES", "ENTRY_POINT_GROUP", "all_rules", "validate_rule"]

ENTRY_POINT_GROUP = "bastion.checks"
"""Entry-point group third-party packages use to add rules (a Rule subclass or a list)."""

BUILTIN_RULES: tuple[type[Rule], ...] = (
    RawSend, MailboxAccess,
    UnsupervisedSpawn,
    ThreadLocal, GlobalWrite, MutatedModuleContainer,
    InfiniteTimeout, BlockingWaitWithoutTimeout,
    DiscardedMonitor, MonitorWithoutDemonitor,
    SleepInTest,
    BareExcept, BroadExcept, BroadSuppress,
    PersistentFields,
    NoqaWithoutReason, UnusedNoqa, AllowlistWithoutReason, UnusedAllowlistEntry,
)  # fmt: skip
_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def validate_rule(rule: object) -> type[Rule]:
    """Check that ``rule`` is a usable Rule subclass; raise ConfigError if not."""
    if not (isinstance(rule, type) and issubclass(rule, Rule)):
        raise ConfigError(f"{rule!r} is not a bastion.checks.Rule subclass")
    if not CODE_PATTERN.match(rule.code) or rule.code == PARSE_ERROR[0]:
        raise ConfigError(f"rule {rule.__name__}: code {rule.code!r} is not like `ABC123`")
    if not _NAME_PATTERN.match(rule.name):
        raise ConfigError(f"rule {rule.__name__}: name {rule.name!r} is not kebab-case")
    if not rule.summary or not rule.explanation:
        raise ConfigError(f"rule {rule.__name__}: needs a summary and an explanation")
    return rule


def _plugins() -> list[type[Rule]]:
    found: list[type[Rule]] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"rule plugin {entry.name!r} cannot be loaded: {exc}") from exc
        items = loaded if isinstance(loaded, list | tuple) else [loaded]
        found.extend(validate_rule(item) for item in items)
    return found


@cache
def all_rules() -> dict[str, type[Rule]]:
    """Every known rule by code: built-ins first, then entry-point plugins."""
    rules: dict[str, type[Rule]] = {}
    for rule in (*BUILTIN_RULES, *_plugins()):
        if rule.code in rules and rules[rule.code] is not rule:
            raise ConfigError(
                f"two rules claim code {rule.code}: {rules[rule.code].__name__} and {rule.__name__}"
            )
        rules[rule.code] = rule
    return rules

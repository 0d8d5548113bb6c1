"""Evaluation: a :class:`Flag` compiled into the cheap form ``Flags.evaluate`` runs.

Compiling precomputes everything that does not depend on the context: the bucketing
threshold, rule key sets, and one immutable :class:`Evaluation` per (variant, reason),
so an evaluation allocates nothing but the bucket hash.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bastion.flags._bucket import bucket, percentage_threshold
from bastion.flags._model import Flag, FlagValue, Rule

__all__ = ["CompiledFlag", "Evaluation", "Reason"]

_NO_ATTRIBUTES: Mapping[str, Any] = {}


class Reason(enum.StrEnum):
    """Why an evaluation served its variant (the values are OpenFeature's reasons)."""

    DISABLED = "DISABLED"  # the kill switch is on: the default variant for everyone
    TARGETING_MATCH = "TARGETING_MATCH"  # a rule matched the key or an attribute
    SPLIT = "SPLIT"  # bucketing put the key in the canary percentage or a split share
    DEFAULT = "DEFAULT"  # nothing selected the key: the default (baseline) variant


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The result of one evaluation: ``value`` of ``variant``, and why.

    ``cohort`` is the metrics cohort the evaluation set, ``"<key>=<variant>"``.
    """

    key: str
    value: FlagValue
    variant: str
    reason: Reason
    cohort: str


def _tag(value: object) -> tuple[bool, object]:
    return (isinstance(value, bool), value)


class _CompiledRule:
    __slots__ = ("attribute", "keys", "negate", "result", "values")

    def __init__(self, rule: Rule, result: Evaluation) -> None:
        self.keys = frozenset(rule.keys)
        self.attribute = rule.attribute
        self.values = frozenset(_tag(v) for v in rule.values)
        self.negate = rule.negate
        self.result = result

    def matches(self, targeting_key: str, attributes: Mapping[str, Any]) -> bool:
        attribute = self.attribute
        if attribute is None:
            return targeting_key in self.keys
        if attribute not in attributes:
            return self.negate
        value = attributes[attribute]
        try:
            found = _tag(value) in self.values
        except TypeError:  # an unhashable attribute value (a list) equals no rule value
            found = False
        return found != self.negate


class CompiledFlag:
    """A flag ready to evaluate. Built once per change; :meth:`evaluate` is the hot path."""

    __slots__ = (
        "canary",
        "default",
        "disabled",
        "enabled",
        "flag",
        "rules",
        "salt",
        "split",
        "split_salt",
        "threshold",
    )

    def __init__(self, flag: Flag) -> None:
        self.flag = flag
        self.enabled = flag.enabled
        self.salt = flag.bucketing_salt
        self.split_salt = self.salt + ":split"
        self.threshold = percentage_threshold(flag.percentage)
        self.default = self._result(flag.default, Reason.DEFAULT)
        self.disabled = self._result(flag.default, Reason.DISABLED)
        self.canary = self._result(flag.canary, Reason.SPLIT) if flag.canary else None
        self.rules = tuple(
            _CompiledRule(r, self._result(r.variant, Reason.TARGETING_MATCH)) for r in flag.rules
        )
        self.split = self._split_table(flag)

    def _result(self, variant: str, reason: Reason) -> Evaluation:
        flag = self.flag
        return Evaluation(flag.key, flag.variants[variant], variant, reason, flag.cohort(variant))

    def _split_table(self, flag: Flag) -> tuple[tuple[float, Evaluation], ...]:
        table, upper = [], 0.0
        for variant, weight in flag.split.items():
            upper += weight
            table.append((percentage_threshold(upper), self._result(variant, Reason.SPLIT)))
        return tuple(table)

    def evaluate(self, targeting_key: str, attributes: Mapping[str, Any] | None) -> Evaluation:
        """The variant for this context (see :mod:`bastion.flags._model` for the order)."""
        if not self.enabled:
            return self.disabled
        if self.rules:
            attrs = _NO_ATTRIBUTES if attributes is None else attributes
            for rule in self.rules:
                if rule.matches(targeting_key, attrs):
                    return rule.result
        canary = self.canary
        if canary is not None and self.threshold > 0:
            if self.threshold >= 1 << 60:
                return canary
            if targeting_key and bucket(self.salt, targeting_key) < self.threshold:
                return canary
        if self.split and targeting_key:
            where = bucket(self.split_salt, targeting_key)
            for upper, result in self.split:
                if where < upper:
                    return result
            return self.split[-1][1]
        return self.default

"""What a flag is: :class:`Flag`, its targeting :class:`Rule` and its variants.

A flag has named *variants* (``{"off": False, "on": True}``, or any JSON values) and
serves one of them per evaluation, decided in this order:

1. ``enabled=False`` (the kill switch): the ``default`` variant for everyone;
2. the first :class:`Rule` that matches the targeting key or an attribute;
3. the ``canary`` variant, to ``percentage`` percent of targeting keys (stable
   bucketing, :mod:`bastion.flags._bucket`);
4. ``split`` (a weighted allocation over variants) for the remaining keys, if given;
5. the ``default`` variant (the baseline).

Definitions are immutable and validated on construction: a bad value is a
``ValueError``/``TypeError`` naming the field, never a flag that fails later.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeAlias

__all__ = [
    "MAX_KEY",
    "MAX_VARIANT",
    "AttributeValue",
    "Flag",
    "FlagValue",
    "Rule",
    "check_key",
    "check_text",
    "check_percentage",
]

#: Longest flag key and variant name: ``f"{key}={variant}"`` fits a 64-character cohort.
MAX_KEY = 40
MAX_VARIANT = 23
MAX_RULES = 100
MAX_VARIANTS = 64
MAX_RULE_KEYS = 10_000

FlagValue: TypeAlias = bool | int | float | str | list[Any] | dict[str, Any]
AttributeValue: TypeAlias = bool | int | float | str

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")


def _check_name(what: str, name: object, longest: int) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, got {type(name).__name__}")
    if not _NAME.fullmatch(name) or len(name) > longest:
        raise ValueError(
            f"{what} {name!r} is invalid: 1-{longest} characters of letters, digits and "
            "'_.:-', starting with a letter or digit"
        )
    return name


def check_text(what: str, text: str) -> str:
    """``text`` if it can be stored (UTF-8: no lone surrogates), else ``ValueError``."""
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid text (it holds a lone surrogate)") from None
    return text


def check_key(key: object) -> str:
    """``key`` if it is a valid flag key, else ``TypeError``/``ValueError``."""
    return _check_name("a flag key", key, MAX_KEY)


def check_percentage(percentage: object) -> float:
    """``percentage`` as a float if it is a real number within 0..100, else an error."""
    if isinstance(percentage, bool) or not isinstance(percentage, int | float):
        raise TypeError(f"a percentage must be a number, got {type(percentage).__name__}")
    if not (math.isfinite(percentage) and 0 <= percentage <= 100):
        raise ValueError(f"a percentage must be within 0..100, got {percentage!r}")
    return float(percentage)


def _check_value(value: object, where: str, depth: int = 0) -> None:
    if depth > 32:
        raise ValueError(f"{where} is nested more than 32 levels deep")
    if isinstance(value, str):
        check_text(where, value)
        return
    if isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} must be finite (JSON has no NaN or infinity)")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(item, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where} has a non-str key {k!r} (JSON objects have str keys)")
            check_text(f"{where}: a key", k)
            _check_value(item, f"{where}[{k!r}]", depth + 1)
        return
    raise TypeError(
        f"{where} must be a JSON value (bool, int, float, str, list, dict), "
        f"got {type(value).__name__}"
    )


def _check_attribute_value(value: object) -> AttributeValue:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a rule value must be finite")
    if not isinstance(value, bool | int | float | str):
        raise TypeError(f"a rule value must be a str, int, float or bool, got {value!r}")
    if isinstance(value, str):
        check_text("a rule value", value)
    return value


@dataclass(frozen=True, slots=True)
class Rule:
    """Serve ``variant`` to some contexts, before any percentage applies.

    Give either ``keys`` (targeting keys that get the variant) or ``attribute`` and
    ``values`` (contexts whose attribute equals one of the values; ``negate=True``:
    equals none of them, a missing attribute included). Values compare by type and
    value (``True`` does not match ``1``)::

        Rule("on", keys=["alice", "bob"])
        Rule("on", attribute="plan", values=["pro", "team"])
    """

    variant: str
    keys: tuple[str, ...] = ()
    attribute: str | None = None
    values: tuple[AttributeValue, ...] = ()
    negate: bool = False

    def __post_init__(self) -> None:
        _check_name("a rule's variant", self.variant, MAX_VARIANT)
        keys = _unique(self.keys, "keys")
        values = _unique(self.values, "values")
        for key in keys:
            if not isinstance(key, str) or not key:
                raise TypeError(f"a rule's keys are non-empty str targeting keys, got {key!r}")
            check_text("a rule's key", key)
        if len(keys) > MAX_RULE_KEYS:
            raise ValueError(f"a rule lists at most {MAX_RULE_KEYS} keys, got {len(keys)}")
        for value in values:
            _check_attribute_value(value)
        if not isinstance(self.negate, bool):
            raise TypeError("negate must be a bool")
        if keys and self.attribute is not None:
            raise ValueError("a rule matches either keys or an attribute, not both")
        if self.attribute is None:
            if not keys:
                raise ValueError("a rule needs keys=[...] or attribute=... with values=[...]")
            if values or self.negate:
                raise ValueError("values and negate apply to an attribute rule only")
        else:
            if not isinstance(self.attribute, str) or not self.attribute:
                raise TypeError(f"attribute must be a non-empty str, got {self.attribute!r}")
            check_text("attribute", self.attribute)
            if not values:
                raise ValueError(f"the rule on attribute {self.attribute!r} needs values=[...]")
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "values", values)

    def matches(self, targeting_key: str, attributes: Mapping[str, Any]) -> bool:
        """Whether this rule applies (slow path; evaluation uses a compiled form)."""
        if self.attribute is None:
            return targeting_key in self.keys
        found = self.attribute in attributes and any(
            _same(attributes[self.attribute], v) for v in self.values
        )
        return found != self.negate


def _same(a: object, b: object) -> bool:
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _unique(items: Iterable[Any], what: str) -> tuple[Any, ...]:
    if isinstance(items, str | bytes):
        raise TypeError(f"a rule's {what} must be a list, not a single {type(items).__name__}")
    out: list[Any] = []
    for item in items:
        if not any(_same(item, seen) for seen in out):
            out.append(item)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Flag:
    """A flag definition (immutable; change it through :class:`~bastion.flags.Flags`).

    ``variants`` maps variant names to JSON values; ``default`` is the baseline
    variant (served when the flag is killed and to everyone nothing else selects);
    ``canary`` is served to ``percentage`` percent (0..100, fractions allowed) of
    targeting keys. ``split`` maps variants to weights (percent, summing to 100) for
    the keys no rule or canary selected. ``salt`` (default: the key) seeds bucketing:
    two flags with the same salt put the same keys in their canaries.
    """

    key: str
    variants: Mapping[str, FlagValue]
    default: str
    canary: str | None = None
    percentage: float = 0.0
    rules: tuple[Rule, ...] = ()
    split: Mapping[str, float] = field(default_factory=dict)
    enabled: bool = True
    salt: str = ""
    description: str = ""

    @classmethod
    def boolean(
        cls,
        key: str,
        *,
        default: bool = False,
        percentage: float = 0.0,
        rules: Iterable[Rule] = (),
        enabled: bool = True,
        description: str = "",
    ) -> Flag:
        """A boolean flag: variants ``"on"`` (True) and ``"off"`` (False); the variant of
        ``default`` is the baseline, the other one the canary."""
        base, other = ("on", "off") if default else ("off", "on")
        return cls(
            key,
            {"off": False, "on": True},
            base,
            canary=other,
            percentage=percentage,
            rules=tuple(rules),
            enabled=enabled,
            description=description,
        )

    def __post_init__(self) -> None:
        check_key(self.key)
        variants = self._checked_variants()
        object.__setattr__(self, "variants", MappingProxyType(variants))
        self._check_variant("default", self.default)
        if self.canary is not None:
            self._check_variant("canary", self.canary)
            if self.canary == self.default:
                raise ValueError(f"flag {self.key!r}: canary and default are both {self.default!r}")
        object.__setattr__(self, "percentage", check_percentage(self.percentage))
        if self.percentage > 0 and self.canary is None:
            raise ValueError(f"flag {self.key!r}: a percentage needs a canary variant")
        object.__setattr__(self, "rules", self._checked_rules())
        object.__setattr__(self, "split", MappingProxyType(self._checked_split()))
        for name in ("enabled",):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"flag {self.key!r}: {name} must be a bool")
        for name, longest in (("salt", 64), ("description", 500)):
            text = getattr(self, name)
            if not isinstance(text, str) or len(text) > longest:
                raise ValueError(f"flag {self.key!r}: {name} must be a str of <= {longest} chars")
            check_text(f"flag {self.key!r}: {name}", text)

    def _checked_variants(self) -> dict[str, FlagValue]:
        if not isinstance(self.variants, Mapping) or not self.variants:
            raise ValueError(f"flag {self.key!r}: variants must be a non-empty mapping")
        if len(self.variants) > MAX_VARIANTS:
            raise ValueError(f"flag {self.key!r}: at most {MAX_VARIANTS} variants")
        out: dict[str, FlagValue] = {}
        for name, value in self.variants.items():
            _check_name(f"flag {self.key!r}: variant name", name, MAX_VARIANT)
            _check_value(value, f"flag {self.key!r}: variant {name!r}")
            out[name] = value
        return out

    def _check_variant(self, what: str, name: object) -> None:
        if not isinstance(name, str) or name not in self.variants:
            known = ", ".join(sorted(self.variants))
            raise ValueError(f"flag {self.key!r}: {what} {name!r} is not a variant ({known})")

    def _checked_rules(self) -> tuple[Rule, ...]:
        rules = tuple(self.rules)
        if len(rules) > MAX_RULES:
            raise ValueError(f"flag {self.key!r}: at most {MAX_RULES} rules")
        for rule in rules:
            if not isinstance(rule, Rule):
                raise TypeError(f"flag {self.key!r}: rules must be Rule objects, got {rule!r}")
            self._check_variant("a rule's variant", rule.variant)
        return rules

    def _checked_split(self) -> dict[str, float]:
        if not isinstance(self.split, Mapping):
            raise TypeError(f"flag {self.key!r}: split must be a mapping variant -> weight")
        out = {}
        for name, weight in self.split.items():
            self._check_variant("a split's variant", name)
            out[name] = check_percentage(weight)
        if out and not math.isclose(sum(out.values()), 100.0, abs_tol=1e-9):
            raise ValueError(
                f"flag {self.key!r}: split weights must sum to 100, not {sum(out.values())}"
            )
        return out

    @property
    def bucketing_salt(self) -> str:
        """The salt bucketing uses: ``salt``, or the key when no salt is set."""
        return self.salt or self.key

    def cohort(self, variant: str) -> str:
        """The metrics cohort label of ``variant``: ``"<key>=<variant>"``."""
        return f"{self.key}={variant}"

    def replace(self, **changes: Any) -> Flag:
        """A copy with ``changes`` applied and validated (``key`` cannot change)."""
        if "key" in changes and changes["key"] != self.key:
            raise ValueError("a flag's key cannot change; define a new flag instead")
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"unknown flag field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

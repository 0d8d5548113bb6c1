"""Flag definitions validate everything up front: bad input is a clear error."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bastion.flags import Flag, Rule


def test_boolean_flag_has_on_and_off_with_the_default_as_baseline() -> None:
    flag = Flag.boolean("new-parser")
    assert dict(flag.variants) == {"off": False, "on": True}
    assert (flag.default, flag.canary, flag.percentage, flag.enabled) == ("off", "on", 0.0, True)
    assert Flag.boolean("x", default=True).default == "on"
    assert flag.cohort("on") == "new-parser=on"
    assert flag.bucketing_salt == "new-parser"


@pytest.mark.parametrize("key", ["", "has space", "-leading", "x" * 41, "ümlaut", "a/b"])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="flag key"):
        Flag.boolean(key)


def test_a_key_must_be_a_str() -> None:
    with pytest.raises(TypeError, match="str"):
        Flag.boolean(7)  # type: ignore[arg-type]


@pytest.mark.parametrize("percentage", [-0.1, 100.01, math.nan, math.inf])
def test_percentages_outside_0_to_100_are_refused(percentage: float) -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        Flag.boolean("f", percentage=percentage)


@pytest.mark.parametrize("percentage", ["50", True, None])
def test_percentages_must_be_numbers(percentage: Any) -> None:
    with pytest.raises(TypeError, match="number"):
        Flag.boolean("f", percentage=percentage)


def test_a_percentage_needs_a_canary_distinct_from_the_default() -> None:
    with pytest.raises(ValueError, match="needs a canary"):
        Flag("f", {"a": 1}, "a", percentage=5)
    with pytest.raises(ValueError, match="canary and default"):
        Flag("f", {"a": 1, "b": 2}, "a", canary="a")


def test_default_canary_and_rule_variants_must_exist() -> None:
    with pytest.raises(ValueError, match="default 'z' is not a variant"):
        Flag("f", {"a": 1}, "z")
    with pytest.raises(ValueError, match="canary 'z'"):
        Flag("f", {"a": 1}, "a", canary="z")
    with pytest.raises(ValueError, match="rule's variant 'z'"):
        Flag("f", {"a": 1}, "a", rules=(Rule("z", keys=["u"]),))


@pytest.mark.parametrize(
    ("variants", "error"),
    [
        ({}, ValueError),
        ({"a": None}, TypeError),
        ({"a": math.nan}, ValueError),
        ({"a": {1: "x"}}, TypeError),
        ({"a": [object()]}, TypeError),
        ({"bad name": 1}, ValueError),
    ],
)
def test_variants_must_be_named_json_values(variants: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        Flag("f", variants, "a")


def test_variants_hold_any_json_value_and_are_read_only() -> None:
    flag = Flag("cfg", {"small": {"limit": 10, "tags": ["a"]}, "big": 2.5}, "small")
    assert flag.variants["small"] == {"limit": 10, "tags": ["a"]}
    with pytest.raises(TypeError):
        flag.variants["big"] = 3  # type: ignore[index]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Rule("on"),
        lambda: Rule("on", keys=["a"], attribute="plan", values=["pro"]),
        lambda: Rule("on", attribute="plan"),
        lambda: Rule("on", keys=["a"], negate=True),
        lambda: Rule("on", attribute="plan", values=[None]),
        lambda: Rule("on", keys="alice"),
        lambda: Rule("on", keys=[""]),
        lambda: Rule("on", attribute="", values=["x"]),
    ],
)
def test_bad_rules_are_refused(make: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        make()


def test_rules_deduplicate_keys_and_keep_bools_apart_from_ints() -> None:
    rule = Rule("on", attribute="beta", values=[True, 1, True])
    assert rule.values == (True, 1)
    assert Rule("on", keys=["a", "a", "b"]).keys == ("a", "b")


def test_split_weights_must_name_variants_and_sum_to_100() -> None:
    variants = {"a": 1, "b": 2, "c": 3}
    Flag("f", variants, "a", split={"a": 50, "b": 25, "c": 25})
    with pytest.raises(ValueError, match="sum to 100"):
        Flag("f", variants, "a", split={"a": 50, "b": 25})
    with pytest.raises(ValueError, match="not a variant"):
        Flag("f", variants, "a", split={"z": 100})


def test_replace_validates_and_never_changes_the_key() -> None:
    flag = Flag.boolean("f")
    assert flag.replace(percentage=10).percentage == 10.0
    with pytest.raises(ValueError, match="key cannot change"):
        flag.replace(key="g")
    with pytest.raises(TypeError, match="unknown flag field"):
        flag.replace(colour="red")
    with pytest.raises(ValueError, match=r"0\.\.100"):
        flag.replace(percentage=101)


def test_salt_and_description_have_limits() -> None:
    with pytest.raises(ValueError, match="salt"):
        Flag.boolean("f").replace(salt="s" * 65)
    with pytest.raises(ValueError, match="description"):
        Flag.boolean("f", description="d" * 501)
    with pytest.raises(TypeError, match="enabled"):
        Flag.boolean("f", enabled="yes")  # type: ignore[arg-type]

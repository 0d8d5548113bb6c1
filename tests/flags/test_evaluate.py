"""Evaluation order: kill switch, rules, canary percentage, split, default."""

from __future__ import annotations

from collections import Counter

from bastion.flags import Flag, Reason, Rule
from bastion.flags._evaluate import CompiledFlag


def evaluate(flag: Flag, key: str, attributes: dict[str, object] | None = None) -> tuple[str, str]:
    ev = CompiledFlag(flag).evaluate(key, attributes)
    return ev.variant, ev.reason


def test_nothing_selected_serves_the_default_variant() -> None:
    flag = Flag.boolean("f")
    ev = CompiledFlag(flag).evaluate("user-1", None)
    assert (ev.key, ev.value, ev.variant, ev.reason, ev.cohort) == (
        "f",
        False,
        "off",
        Reason.DEFAULT,
        "f=off",
    )


def test_key_rules_win_over_the_percentage() -> None:
    flag = Flag.boolean("f", rules=[Rule("on", keys=["vip"]), Rule("off", keys=["grumpy"])])
    flag = flag.replace(percentage=100)
    assert evaluate(flag, "vip") == ("on", Reason.TARGETING_MATCH)
    assert evaluate(flag, "grumpy") == ("off", Reason.TARGETING_MATCH)
    assert evaluate(flag, "anyone") == ("on", Reason.SPLIT)


def test_attribute_rules_match_by_type_and_value_and_may_be_negated() -> None:
    flag = Flag(
        "f",
        {"a": "A", "b": "B", "c": "C"},
        "a",
        rules=(
            Rule("b", attribute="plan", values=["pro", "team"]),
            Rule("c", attribute="beta", values=[True]),
            Rule("c", attribute="region", values=["eu"], negate=True),
        ),
    )
    assert evaluate(flag, "u", {"plan": "pro", "region": "eu"}) == ("b", Reason.TARGETING_MATCH)
    assert evaluate(flag, "u", {"beta": True, "region": "eu"})[0] == "c"
    assert evaluate(flag, "u", {"beta": 1, "region": "eu"}) == ("a", Reason.DEFAULT)
    assert evaluate(flag, "u", {"region": "us"})[0] == "c"
    assert evaluate(flag, "u", {})[0] == "c"  # a missing attribute is "not eu"
    assert evaluate(flag, "u", {"region": ["eu"], "plan": ["pro"]})[0] == "c"
    assert evaluate(flag, "u", None)[0] == "c"


def test_the_kill_switch_serves_the_default_to_everyone() -> None:
    flag = Flag.boolean("f", percentage=100, rules=[Rule("on", keys=["vip"])], enabled=False)
    assert evaluate(flag, "vip") == ("off", Reason.DISABLED)
    assert evaluate(flag, "anyone") == ("off", Reason.DISABLED)


def test_without_a_targeting_key_only_100_percent_reaches_the_canary() -> None:
    assert evaluate(Flag.boolean("f", percentage=99.9), "") == ("off", Reason.DEFAULT)
    assert evaluate(Flag.boolean("f", percentage=100), "") == ("on", Reason.SPLIT)


def test_split_allocates_the_remaining_keys_by_weight() -> None:
    flag = Flag("f", {"a": 1, "b": 2, "c": 3}, "a", split={"a": 50, "b": 30, "c": 20})
    compiled = CompiledFlag(flag)
    counts = Counter(compiled.evaluate(f"user-{i}", None).variant for i in range(10_000))
    assert 0.47 < counts["a"] / 10_000 < 0.53
    assert 0.27 < counts["b"] / 10_000 < 0.33
    assert 0.17 < counts["c"] / 10_000 < 0.23
    assert compiled.evaluate("", None).reason is Reason.DEFAULT


def test_split_applies_after_the_canary_and_independently_of_it() -> None:
    flag = Flag(
        "f",
        {"base": 0, "new": 1, "x": 2, "y": 3},
        "base",
        canary="new",
        percentage=50,
        split={"x": 50, "y": 50},
    )
    compiled = CompiledFlag(flag)
    counts = Counter(compiled.evaluate(f"user-{i}", None).variant for i in range(10_000))
    assert set(counts) == {"new", "x", "y"}
    assert 0.22 < counts["x"] / 10_000 < 0.28


def test_an_evaluation_allocates_nothing_new_per_call() -> None:
    compiled = CompiledFlag(Flag.boolean("f", percentage=50))
    assert compiled.evaluate("user-1", None) is compiled.evaluate("user-1", None)

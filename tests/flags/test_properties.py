"""Properties: any valid flag survives the store unchanged; bad text never reaches it."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.flags import Flag, FlagConflict, Flags, Rule, bucket
from bastion.flags._evaluate import CompiledFlag
from bastion.flags._journal import (
    ChangeAction,
    FlagChange,
    decode_change,
    decode_flag,
    encode_change,
    encode_flag,
)
from bastion.persistence import MemoryStore

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,22}", fullmatch=True)
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def flags(draw: st.DrawFn) -> Flag:
    variants = draw(st.dictionaries(names, json_values, min_size=2, max_size=5))
    chosen = list(variants)
    default, canary = chosen[0], chosen[1]
    rules = draw(
        st.lists(
            st.one_of(
                st.builds(
                    Rule, st.sampled_from(chosen), keys=st.lists(text.filter(bool), min_size=1)
                ),
                st.builds(
                    Rule,
                    st.sampled_from(chosen),
                    attribute=text.filter(bool),
                    values=st.lists(scalars, min_size=1, max_size=3),
                    negate=st.booleans(),
                ),
            ),
            max_size=3,
        )
    )
    return Flag(
        draw(st.from_regex(r"[a-z][a-z0-9.-]{0,39}", fullmatch=True)),
        variants,
        default,
        canary=canary,
        percentage=draw(st.floats(min_value=0, max_value=100)),
        rules=tuple(rules),
        split=draw(st.sampled_from([{}, {default: 60.0, canary: 40.0}])),
        enabled=draw(st.booleans()),
        salt=draw(text),
        description=draw(text),
    )


@settings(deadline=None)  # timing is not under test; the machine is shared
@given(flag=flags())
def test_a_flag_round_trips_through_its_stored_form(flag: Flag) -> None:
    assert decode_flag(encode_flag(flag), flag.key) == flag


@settings(deadline=None)  # timing is not under test; the machine is shared
@given(flag=flags(), actor=text.filter(str.strip), at=st.floats(0, 4e9))
def test_a_journal_entry_round_trips_through_its_stored_form(
    flag: Flag, actor: str, at: float
) -> None:
    change = FlagChange(flag.key, 2, ChangeAction.SET, actor, "why", at, flag, flag)
    assert decode_change(encode_change(change), flag.key, 2) == change


@settings(deadline=None)  # timing is not under test; the machine is shared
@given(flag=flags(), key=text, attributes=st.dictionaries(text, scalars, max_size=3))
def test_the_same_context_always_gets_the_same_variant(
    flag: Flag, key: str, attributes: dict[str, object]
) -> None:
    first = CompiledFlag(flag).evaluate(key, attributes)
    again = CompiledFlag(decode_flag(encode_flag(flag), flag.key)).evaluate(key, attributes)
    assert first == again
    assert first.variant in flag.variants


def test_a_targeting_key_with_a_lone_surrogate_still_evaluates() -> None:
    flag = CompiledFlag(Flag.boolean("f", percentage=50))
    assert flag.evaluate("user-\ud800", None).variant in {"on", "off"}
    assert bucket("f", "user-\ud800") == bucket("f", "user-\ud800")


@pytest.mark.parametrize(
    "make",
    [
        lambda: Flag("f", {"a": "\ud800"}, "a"),
        lambda: Flag("f", {"a": {"\udfff": 1}}, "a"),
        lambda: Rule("on", keys=["\ud800"]),
        lambda: Rule("on", attribute="plan", values=["\ud800"]),
        lambda: Flag.boolean("f", description="\ud800"),
    ],
)
def test_text_that_cannot_be_stored_is_refused_up_front(make: object) -> None:
    with pytest.raises(ValueError, match="lone surrogate"):
        make()  # type: ignore[operator]


async def test_an_actor_or_reason_that_cannot_be_stored_is_refused() -> None:
    flags = await Flags.open(MemoryStore())
    with pytest.raises(ValueError, match="lone surrogate"):
        await flags.define(Flag.boolean("f"), actor="\ud800", reason="r")
    with pytest.raises(ValueError, match="lone surrogate"):
        await flags.define(Flag.boolean("f"), actor="a", reason="\ud800")
    assert flags.list() == ()


operations = st.lists(
    st.tuples(
        st.integers(0, 1),  # which writer
        st.sampled_from(["percentage", "kill", "enable", "refresh", "stale-cas"]),
        st.floats(min_value=0, max_value=100),
    ),
    max_size=12,
)


@settings(deadline=None, max_examples=60)  # timing is not under test
@given(ops=operations)
def test_two_writers_never_lose_or_duplicate_a_journal_entry(
    ops: list[tuple[int, str, float]],
) -> None:
    async def scenario() -> None:
        store = MemoryStore()
        writers = [await Flags.open(store), await Flags.open(store)]
        written = [await writers[0].define(Flag.boolean("f"), actor="w0", reason="r")]
        for who, op, percentage in ops:
            flags, actor = writers[who], f"w{who}"
            if op == "refresh":
                await flags.refresh()
            elif op == "percentage":
                written.append(await flags.set_percentage("f", percentage, actor=actor, reason="r"))
            elif op == "kill":
                written.append(await flags.kill("f", actor=actor, reason="r"))
            elif op == "enable":
                written.append(await flags.set("f", enabled=True, actor=actor, reason="r"))
            else:  # a compare-and-set against a version that is always stale
                with pytest.raises(FlagConflict):
                    await flags.kill("f", actor=actor, reason="r", expected_version=0)
        history = (await Flags.open(store)).history("f")
        assert list(history) == written
        assert [c.seq for c in history] == list(range(1, len(written) + 1))
        for before, after in itertools.pairwise(history):
            assert after.before == before.after  # each change starts where the last ended

    asyncio.run(scenario())

"""The flag service: changes are stored with an audited journal, survive restarts,
take effect on the next evaluation and are announced."""

from __future__ import annotations

import logging

import pytest

from bastion import BastionError
from bastion.flags import (
    ChangeAction,
    Flag,
    FlagChange,
    FlagConflict,
    FlagError,
    FlagExists,
    Flags,
    Reason,
    Rule,
    UnknownFlag,
)
from bastion.persistence import MemoryStore
from bastion.telemetry import cohort, current_cohort
from tests.flags.conftest import Reopen


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


async def test_changes_are_journaled_with_who_when_why_before_after(reopen: Reopen) -> None:
    clock = Clock()
    flags = await Flags.open(await reopen(), clock=clock)
    flag = Flag.boolean("new-parser")
    first = await flags.define(flag, actor="ana", reason="ticket 42")
    await flags.set_percentage("new-parser", 5, actor="rollout", reason="phase 1")
    await flags.set("new-parser", actor="bob", reason="vip", rules=(Rule("on", keys=["vip"]),))
    last = await flags.kill("new-parser", actor="oncall", reason="incident 7")
    history = flags.history("new-parser")
    assert history[0] == first
    assert [c.seq for c in history] == [1, 2, 3, 4]
    assert [c.action for c in history] == [
        ChangeAction.DEFINE,
        ChangeAction.SET_PERCENTAGE,
        ChangeAction.SET,
        ChangeAction.KILL,
    ]
    assert [(c.actor, c.reason, c.at) for c in history] == [
        ("ana", "ticket 42", 1001.0),
        ("rollout", "phase 1", 1002.0),
        ("bob", "vip", 1003.0),
        ("oncall", "incident 7", 1004.0),
    ]
    assert history[0].before is None
    assert history[0].after == flag
    assert history[1].changed_fields() == {"percentage": (0.0, 5.0)}
    assert history[2].changed_fields() == {"rules": ([], [{"variant": "on", "keys": ["vip"]}])}
    assert last.changed_fields() == {"enabled": (True, False)}
    assert flags.get("new-parser") == last.after
    assert flags.version("new-parser") == 4


async def test_flags_and_journal_survive_a_restart(reopen: Reopen) -> None:
    flags = await Flags.open(await reopen())
    await flags.define(Flag.boolean("a", percentage=10), actor="ana", reason="r1")
    await flags.define(Flag("b", {"x": {"n": 1}, "y": [1, 2]}, "x"), actor="ana", reason="r2")
    await flags.set_percentage("a", 50, actor="ana", reason="r3")
    before = (flags.list(), flags.history("a"), flags.history("b"))
    await flags.aclose()
    again = await Flags.open(await reopen())
    assert (again.list(), again.history("a"), again.history("b")) == before
    assert [f.key for f in again.list()] == ["a", "b"]
    assert again.evaluate("a", "user-3") == flags.evaluate("a", "user-3")


async def test_a_change_takes_effect_on_the_next_evaluation() -> None:
    flags = await Flags.open(MemoryStore())
    await flags.define(Flag.boolean("f"), actor="a", reason="r")
    users = [f"user-{i}" for i in range(200)]
    assert {flags.evaluate("f", u).variant for u in users} == {"off"}
    await flags.set_percentage("f", 100, actor="a", reason="all in")
    assert {flags.evaluate("f", u).variant for u in users} == {"on"}
    await flags.set_percentage("f", 0, actor="a", reason="rollback")
    assert {flags.evaluate("f", u).variant for u in users} == {"off"}


async def test_evaluation_sets_the_cohort_and_scope_restores_it() -> None:
    flags = await Flags.open(MemoryStore())
    await flags.define(Flag.boolean("f", percentage=100), actor="a", reason="r")
    with cohort("outer"):
        with flags.scope("f", "user-1") as ev:
            assert current_cohort() == ev.cohort == "f=on"
        assert current_cohort() == "outer"
        flags.evaluate("f", "user-1", cohort=False)
        assert current_cohort() == "outer"
        flags.evaluate("f", "user-1")
        assert current_cohort() == "f=on"


async def test_unknown_flags_and_bad_keys_are_clear_errors() -> None:
    flags = await Flags.open(MemoryStore())
    for read in (flags.get, flags.history, flags.version, lambda k: flags.evaluate(k, "u")):
        with pytest.raises(UnknownFlag, match="no flag 'nope'") as info:
            read("nope")
        assert isinstance(info.value, BastionError | LookupError)
    with pytest.raises(UnknownFlag):
        await flags.set_percentage("nope", 5, actor="a", reason="r")
    with pytest.raises(ValueError, match="flag key"):
        flags.evaluate("bad key", "u")


async def test_bad_changes_are_refused_and_write_nothing() -> None:
    store = MemoryStore()
    flags = await Flags.open(store)
    await flags.define(Flag.boolean("f"), actor="a", reason="r")
    with pytest.raises(ValueError, match=r"0\.\.100"):
        await flags.set_percentage("f", 120, actor="a", reason="r")
    with pytest.raises(ValueError, match="not a variant"):
        await flags.set("f", actor="a", reason="r", rules=(Rule("maybe", keys=["u"]),))
    with pytest.raises(TypeError, match="unknown flag field"):
        await flags.set("f", actor="a", reason="r", colour="red")
    with pytest.raises(ValueError, match="at least one field"):
        await flags.set("f", actor="a", reason="r")
    with pytest.raises(ValueError, match="actor"):
        await flags.kill("f", actor="", reason="r")
    with pytest.raises(ValueError, match="reason"):
        await flags.kill("f", actor="a", reason="  ")
    with pytest.raises(FlagExists):
        await flags.define(Flag.boolean("f"), actor="a", reason="r")
    with pytest.raises(TypeError, match="takes a Flag"):
        await flags.define("f", actor="a", reason="r")  # type: ignore[arg-type]
    assert len(flags.history("f")) == 1
    assert len((await store.load("flags/f")).collections["journal"]) == 1


async def test_ensure_defines_once_and_keeps_later_changes() -> None:
    flags = await Flags.open(MemoryStore())
    flag = Flag.boolean("f")
    assert await flags.ensure(flag, actor="code", reason="declared") == flag
    await flags.set_percentage("f", 20, actor="ops", reason="canary")
    assert (await flags.ensure(flag, actor="code", reason="declared")).percentage == 20
    assert len(flags.history("f")) == 2


async def test_subscribers_hear_every_change_until_they_unsubscribe() -> None:
    flags = await Flags.open(MemoryStore())
    heard: list[FlagChange] = []
    unsubscribe = flags.subscribe(heard.append)
    change = await flags.define(Flag.boolean("f"), actor="a", reason="r")
    assert heard == [change]
    unsubscribe()
    unsubscribe()
    await flags.kill("f", actor="a", reason="r")
    assert heard == [change]
    with pytest.raises(TypeError, match="callable"):
        flags.subscribe("nope")  # type: ignore[arg-type]


async def test_a_failing_subscriber_is_detached_and_the_change_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flags = await Flags.open(MemoryStore())
    heard: list[FlagChange] = []

    def broken(change: FlagChange) -> None:
        raise RuntimeError("subscriber bug")

    flags.subscribe(broken)
    flags.subscribe(heard.append)
    with caplog.at_level(logging.ERROR, logger="bastion.flags"):
        await flags.define(Flag.boolean("f"), actor="a", reason="r")
    await flags.kill("f", actor="a", reason="r")
    assert len(heard) == 2
    assert flags.get("f").enabled is False
    assert "failed on f and was detached" in caplog.text
    stats = flags.statistics()
    assert (stats.subscribers, stats.failed_subscribers, stats.changes) == (1, 1, 2)


async def test_two_writers_on_one_store_never_lose_or_duplicate_a_journal_entry(
    reopen: Reopen,
) -> None:
    store = await reopen()
    mine = await Flags.open(store)
    theirs = await Flags.open(store)  # another process, in effect: it caches its own view
    await mine.define(Flag.boolean("f"), actor="me", reason="r")
    with pytest.raises(FlagExists):
        await theirs.define(Flag.boolean("f"), actor="them", reason="r")
    await theirs.set_percentage("f", 10, actor="them", reason="r")
    change = await mine.set_percentage("f", 20, actor="me", reason="r")  # stale: retried
    assert change.seq == 3
    assert change.before is not None
    assert change.before.percentage == 10
    assert mine.statistics().conflicts == 1
    heard: list[FlagChange] = []
    theirs.subscribe(heard.append)
    await theirs.refresh()
    assert [c.seq for c in heard] == [3]
    assert theirs.history("f") == mine.history("f")
    assert [c.actor for c in mine.history("f")] == ["me", "them", "me"]


async def test_a_closed_service_refuses_changes_but_still_evaluates() -> None:
    async with await Flags.open(MemoryStore()) as flags:
        await flags.define(Flag.boolean("f", percentage=100), actor="a", reason="r")
    assert flags.statistics().closed
    with pytest.raises(FlagError, match="closed"):
        await flags.kill("f", actor="a", reason="r")
    assert flags.evaluate("f", "u").variant == "on"
    await flags.aclose()


async def test_open_refuses_a_bad_namespace() -> None:
    for namespace in ("", "flags/"):
        with pytest.raises(ValueError, match="namespace"):
            await Flags.open(MemoryStore(), namespace=namespace)


async def test_multi_variant_flag_with_rules_and_statistics() -> None:
    flags = await Flags.open(MemoryStore(), namespace="ops/flags")
    flag = Flag(
        "ranker",
        {"v1": "bm25", "v2": "hybrid", "v3": "dense"},
        "v1",
        canary="v2",
        percentage=0,
        rules=(Rule("v3", attribute="team", values=["search"]),),
    )
    await flags.define(flag, actor="a", reason="r")
    assert flags.evaluate("ranker", "u", {"team": "search"}).value == "dense"
    assert flags.evaluate("ranker", "u").reason is Reason.DEFAULT
    stats = flags.statistics()
    assert (stats.namespace, stats.flags, stats.killed, stats.quarantined) == ("ops/flags", 1, 0, 0)


async def test_expected_version_makes_a_change_compare_and_set(reopen: Reopen) -> None:
    store = await reopen()
    mine = await Flags.open(store)
    theirs = await Flags.open(store)
    await mine.define(Flag.boolean("f"), actor="rollout", reason="r")
    await theirs.refresh()
    change = await mine.set_percentage(
        "f", 5, actor="rollout", reason="phase 1", expected_version=1
    )
    assert change.seq == 2
    with pytest.raises(FlagConflict, match="version 2, not 1"):
        await mine.set_percentage("f", 25, actor="rollout", reason="again", expected_version=1)
    # another writer that has not seen phase 1 yet: it reloads, then refuses
    with pytest.raises(FlagConflict, match="changed meanwhile") as info:
        await theirs.kill("f", actor="ops", reason="stale view", expected_version=1)
    assert info.value.context == {"flag": "f", "version": 2, "expected": 1}
    await theirs.set("f", description="x", actor="ops", reason="r", expected_version=2)
    with pytest.raises(TypeError, match="expected_version"):
        await mine.kill("f", actor="a", reason="r", expected_version="2")  # type: ignore[arg-type]
    assert [c.seq for c in (await Flags.open(store)).history("f")] == [1, 2, 3]


async def test_a_service_changes_a_flag_another_process_defined_since_it_opened() -> None:
    store = MemoryStore()
    early = await Flags.open(store)
    other = await Flags.open(store)
    await other.define(Flag.boolean("f"), actor="other", reason="r")
    change = await early.set_percentage("f", 30, actor="early", reason="no refresh needed")
    assert change.seq == 2
    assert early.get("f").percentage == 30
    with pytest.raises(UnknownFlag):
        await early.kill("never-defined", actor="a", reason="r")

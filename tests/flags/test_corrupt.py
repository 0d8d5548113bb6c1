"""Corrupt stored flag data is quarantined with a clear error; nothing is lost."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from bastion.flags import Flag, Flags, FlagStoreCorrupt
from bastion.persistence import DeleteItem, Put, PutItem, StateStore
from tests.flags.conftest import Reopen

NS = "flags/f"


def _definition(**changes: object) -> bytes:
    raw = msgspec.json.decode(_GOOD)
    raw.update(changes)
    return msgspec.json.encode(raw)


_GOOD = msgspec.json.encode(
    {
        "format": 1,
        "key": "f",
        "variants": {"off": False, "on": True},
        "default": "off",
        "canary": "on",
        "percentage": 10.0,
        "rules": [],
        "split": {},
        "enabled": True,
        "salt": "",
        "description": "",
    }
)

Damage = Callable[[StateStore], object]
DAMAGE: dict[str, tuple[list[object], str]] = {
    "definition not JSON": ([Put(NS, "flag", b"{not json", expected_version=2)], "not valid JSON"),
    "definition not an object": (
        [Put(NS, "flag", b"[1]", expected_version=2)],
        "not a JSON object",
    ),
    "unknown format": ([Put(NS, "flag", _definition(format=9), expected_version=2)], "format 9"),
    "another flag's key": (
        [Put(NS, "flag", _definition(key="g"), expected_version=2)],
        "names another",
    ),
    "bad percentage": (
        [Put(NS, "flag", _definition(percentage=250), expected_version=2)],
        "not a valid flag",
    ),
    "wrong field type": (
        [Put(NS, "flag", _definition(enabled="yes"), expected_version=2)],
        "wrong type",
    ),
    "missing field": (
        [Put(NS, "flag", msgspec.json.encode({"format": 1, "key": "f"}), expected_version=2)],
        "lacks the field",
    ),
    "journal entry not JSON": ([PutItem(NS, "journal", "000000000002", b"\xff")], "not valid JSON"),
    "journal entry missing": ([DeleteItem(NS, "journal", "000000000001")], "misses entry 1"),
    "journal behind definition": (
        [Put(NS, "flag", _definition(percentage=99), expected_version=2)],
        "entries for version 3",
    ),
    "unknown record": ([Put(NS, "extra", b"1")], "unknown data"),
}


async def _seed(store: StateStore) -> Flags:
    flags = await Flags.open(store)
    await flags.define(Flag.boolean("f"), actor="ana", reason="r")
    await flags.set_percentage("f", 10, actor="ana", reason="r")
    await flags.define(Flag.boolean("healthy", percentage=100), actor="ana", reason="r")
    return flags


@pytest.mark.parametrize("damage", sorted(DAMAGE))
async def test_corrupt_data_is_quarantined_with_a_clear_error(reopen: Reopen, damage: str) -> None:
    ops, message = DAMAGE[damage]
    store = await reopen()
    await _seed(store)
    await store.write(ops)  # type: ignore[arg-type]
    flags = await Flags.open(await reopen())
    [bad] = flags.quarantined()
    assert (bad.key, bad.namespace) == ("f", NS)
    assert message in bad.reason
    for use in (
        lambda: flags.evaluate("f", "u"),
        lambda: flags.get("f"),
        lambda: flags.history("f"),
    ):
        with pytest.raises(FlagStoreCorrupt, match="quarantined") as info:
            use()
        assert info.value.context["flag"] == "f"
        assert message in info.value.context["reason"]
    with pytest.raises(FlagStoreCorrupt):
        await flags.set_percentage("f", 50, actor="rollout", reason="phase 2")
    assert flags.evaluate("healthy", "u").variant == "on"  # the other flags are unaffected
    assert [f.key for f in flags.list()] == ["healthy"]
    assert flags.statistics().quarantined == 1


async def test_quarantine_keeps_the_data_and_lasts_across_restarts(reopen: Reopen) -> None:
    store = await reopen()
    await _seed(store)
    await store.write([Put(NS, "flag", b"garbage", expected_version=2)])
    await Flags.open(store)
    [entry] = await store.quarantined("flags/")
    assert (entry.namespace, entry.records, entry.items) == (NS, 1, 2)  # nothing deleted
    again = await Flags.open(await reopen())
    assert [q.key for q in again.quarantined()] == ["f"]
    with pytest.raises(FlagStoreCorrupt):
        again.evaluate("f", "u")


async def test_defining_a_quarantined_flag_again_starts_a_fresh_journal(reopen: Reopen) -> None:
    store = await reopen()
    await _seed(store)
    await store.write([Put(NS, "flag", b"garbage", expected_version=2)])
    flags = await Flags.open(store)
    change = await flags.define(Flag.boolean("f"), actor="ana", reason="restored after corruption")
    assert change.seq == 1
    assert flags.quarantined() == ()
    again = await Flags.open(await reopen())
    assert again.quarantined() == ()
    assert [c.reason for c in again.history("f")] == ["restored after corruption"]


async def test_refresh_quarantines_what_another_writer_corrupted(reopen: Reopen) -> None:
    store = await reopen()
    flags = await _seed(store)
    await store.write([Put(NS, "flag", b"garbage", expected_version=2)])
    assert flags.evaluate("f", "u").variant in {"on", "off"}  # still the cached definition
    await flags.refresh()
    with pytest.raises(FlagStoreCorrupt):
        flags.evaluate("f", "u")


async def test_a_namespace_that_is_no_flag_key_is_quarantined(reopen: Reopen) -> None:
    store = await reopen()
    await store.write([Put("flags/bad key", "flag", _GOOD)])
    flags = await Flags.open(store)
    assert [q.key for q in flags.quarantined()] == ["bad key"]
    assert "flag key" in flags.quarantined()[0].reason

"""A metrics collection reads the runtime-wide counters without walking every actor per metric."""

from __future__ import annotations

import pytest

import bastion


async def test_a_collection_does_not_call_the_per_actor_statistics_walk(
    rt: bastion.Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Runtime.statistics() sums timers, monitors and links over every actor; the 19
    # runtime-wide metrics used to call it once each per collection (a window read on a
    # node of 10,000 actors took about a second).
    refs = [await rt.spawn(bastion.Actor) for _ in range(3)]
    walks: list[int] = []
    original = bastion.Runtime.statistics

    def counted(self: bastion.Runtime) -> bastion.RuntimeStatistics:
        walks.append(1)
        return original(self)

    monkeypatch.setattr(bastion.Runtime, "statistics", counted)
    families = {f.name: f for f in rt.metrics.collect()}
    assert walks == []
    assert families["bastion_actors"].samples[0].value == 3.0
    assert families["bastion_actors_spawned"].samples[0].value == 3.0
    monkeypatch.undo()
    for ref in refs:
        await ref.stop()
    families = {f.name: f for f in rt.metrics.collect()}
    assert families["bastion_actors"].samples[0].value == 0.0
    assert families["bastion_actors_stopped"].samples[0].value == 3.0

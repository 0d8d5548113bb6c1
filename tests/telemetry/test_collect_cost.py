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


def test_window_reads_share_a_collection_that_was_costly() -> None:
    # On a node of 10,000 actors one collection takes ~65 ms, longer than the 50 ms two
    # reads may be apart to share it, so each of a health report's window reads collected
    # again (630 ms in one turn of the loop); now reads within ten times the last
    # collection's cost share it.
    from bastion._core import _windows

    class Ticking:
        """A stand-in for time.perf_counter: each reading is 0.1 s after the previous."""

        now = 0.0

        def perf_counter(self) -> float:
            self.now += 0.1
            return self.now

    ring = _windows.SnapshotRing(created=0.0)
    collections: list[float] = []

    def collect() -> tuple[()]:
        collections.append(1)
        return ()

    original = _windows.time
    _windows.time = Ticking()  # type: ignore[assignment]
    try:
        ring.refresh(1.0, collect)  # costs 0.1 s: reads within 1 s share it
        ring.refresh(1.2, collect)
        ring.refresh(1.9, collect)
        assert len(collections) == 1
        ring.refresh(2.1, collect)
        assert len(collections) == 2
    finally:
        _windows.time = original

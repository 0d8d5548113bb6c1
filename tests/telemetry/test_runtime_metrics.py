"""The runtime measures itself: calls, casts, mailboxes, restarts, dead letters, cohorts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import bastion
from bastion.telemetry import cohort, current_cohort, set_cohort
from bastion.testing import wait_for


class Refused(bastion.ExpectedError):
    """A business refusal."""


class Worker(bastion.Actor):
    def __init__(self) -> None:
        self.gate: asyncio.Event | None = None

    async def handle_call(self, message: Any) -> Any:
        match message:
            case "refuse":
                raise Refused("no")
            case "crash":
                raise RuntimeError("boom")
            case "slow":
                await self.runtime.clock.sleep(2)  # slow work, on the runtime clock
            case ("sleep", seconds):
                await self.runtime.clock.sleep(seconds)
        return message

    def handle_cast(self, message: Any) -> None:
        pass


def calls(rt: bastion.Runtime, **labels: str) -> float:
    return rt.metrics.family("bastion_calls").total(**labels)


async def test_call_outcomes_and_latency_per_actor_class(rt: bastion.Runtime) -> None:
    worker = await rt.spawn(Worker)
    await worker.call(("sleep", 0.25))
    with pytest.raises(Refused):
        await worker.call("refuse")
    with pytest.raises(bastion.CallTimeout):
        await worker.call("slow", timeout=1.0)
    with pytest.raises(bastion.ActorCrashed):
        await worker.call("crash")
    with pytest.raises(bastion.ActorNotAlive):
        await worker.call("after the crash")
    for outcome in ("ok", "expected_error", "timeout", "crash", "not_alive"):
        assert calls(rt, actor_class="Worker", outcome=outcome) == 1, outcome
    durations = rt.metrics.family("bastion_call_duration_seconds").sample(
        actor_class="Worker", cohort=""
    )
    assert durations.histogram is not None
    assert durations.histogram.count == 5
    # virtual time: 0 (refused, not alive), 0.25 s (ok), 1 s (timeout, and the crash
    # that waited for the timed-out handler to finish)
    assert durations.histogram.percentile(100) == pytest.approx(1.0, rel=0.01)
    assert durations.histogram.percentile(60) == pytest.approx(0.25, rel=0.01)


async def test_casts_and_mailbox_high_water(rt: bastion.Runtime) -> None:
    worker = await rt.spawn(Worker, mailbox_capacity=10)
    for n in range(4):
        worker.cast_nowait(n)
    assert rt.metrics.family("bastion_mailbox_depth").sample(actor_class="Worker").value == 4
    saturation = rt.metrics.family("bastion_mailbox_saturation_ratio")
    assert saturation.sample(actor_class="Worker").value == 0.4
    await rt.wait_idle()
    await worker.cast("more")
    await rt.wait_idle()
    assert rt.metrics.family("bastion_casts").sample(actor_class="Worker").value == 5
    assert rt.metrics.family("bastion_mailbox_high_water").sample(actor_class="Worker").value == 4
    assert rt.metrics.family("bastion_mailbox_depth").sample(actor_class="Worker").value == 0
    await worker.stop()


async def test_measurements_carry_the_cohort_of_the_work(rt: bastion.Runtime) -> None:
    worker = await rt.spawn(Worker)
    await worker.call("a")
    with cohort("canary"):
        assert current_cohort() == "canary"
        await worker.call("b")
        await worker.call("c")
        await worker.cast("d")
    restore = set_cohort("baseline")
    await worker.call("e")
    restore()
    assert current_cohort() == ""
    assert calls(rt, cohort="canary") == 2
    assert calls(rt, cohort="baseline") == 1
    assert calls(rt, cohort="") == 1
    await rt.wait_idle()
    assert rt.metrics.family("bastion_casts").sample(actor_class="Worker").value == 1
    window = rt.metrics.window("bastion_call_duration_seconds", 60, {"cohort": "canary"})
    assert window.delta == 2
    with pytest.raises(ValueError, match="cohort"), cohort(""):
        pass
    await worker.stop()


async def test_restarts_are_counted_per_supervisor_child_and_reason(rt: bastion.Runtime) -> None:
    sup = await rt.start_supervisor(
        [bastion.ChildSpec("w", Worker)], name="workers", intensity=bastion.RestartIntensity(10)
    )
    with pytest.raises(bastion.ActorCrashed):
        await sup.child("w").call("crash")
    await wait_for(lambda: sup.statistics().restarts == 1, timeout=5)
    sup.child("w").kill("stuck")
    await wait_for(lambda: sup.statistics().restarts == 2, timeout=5)
    restarts = rt.metrics.family("bastion_restarts")
    assert restarts.sample(supervisor="workers", child="w", reason="RuntimeError").value == 1
    assert restarts.sample(supervisor="workers", child="w", reason="stuck").value == 1
    intensity = rt.metrics.family("bastion_restart_intensity_ratio")
    assert intensity.sample(supervisor="workers").value == pytest.approx(0.2)
    assert rt.metrics.family("bastion_actors_crashed").samples[0].value == 2
    await sup.stop()


async def test_dead_letters_by_reason(rt: bastion.Runtime) -> None:
    worker = await rt.spawn(Worker)
    worker.cast_nowait("first")
    worker.cast_nowait("second")
    worker.kill("gone")  # the queued casts become dead letters
    await worker.wait_stopped()
    letters = rt.metrics.family("bastion_dead_letters")
    assert letters.sample(reason="actor stopped").value == 2
    assert rt.metrics.family("bastion_dead_letters_queued").samples[0].value == 2


@pytest.mark.bastion(runtime={"metrics": False})
async def test_one_switch_turns_the_runtime_measurements_off(rt: bastion.Runtime) -> None:
    worker = await rt.spawn(Worker)
    await worker.call("x")
    assert not rt.metrics.enabled
    assert rt.metrics.names() == ("bastion_metric_series_folded",)
    with pytest.raises(KeyError):
        rt.metrics.family("bastion_calls")
    await worker.stop()


async def test_metrics_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="metrics"):
        async with bastion.open_runtime(metrics="no"):  # type: ignore[arg-type]
            pass

"""HealthMonitor: signals over windows of the runtime clock, judged against SLOs."""

from __future__ import annotations

from typing import Any

import pytest

import bastion
from bastion.agents import MonitorAgent, act
from bastion.telemetry import SLO, HealthMonitor, HealthReport, HealthStatus, cohort
from bastion.testing import VirtualClock, wait_for


class Service(bastion.Actor):
    async def handle_call(self, message: Any) -> Any:
        match message:
            case ("slow", seconds):
                await self.runtime.clock.sleep(seconds)  # slow work, on the runtime clock
            case "crash":
                raise RuntimeError("boom")
        return "ok"


SLOS = (SLO("error_rate", 0.05, 0.2, window=60.0), SLO("latency_p99", 0.5, 2.0, window=60.0))


LENIENT = bastion.RestartIntensity(max_restarts=100)  # crashes here are on purpose


async def _calls(ref: bastion.ActorRef, ok: int, crash: int = 0) -> None:
    for _ in range(ok):
        await ref.call("fast")
    for _ in range(crash):
        with pytest.raises(bastion.ActorCrashed):
            await ref.call("crash")
        await wait_for(lambda: ref.is_alive, timeout=5.0)  # restarted by its supervisor


async def test_a_healthy_runtime_is_ok(rt: bastion.Runtime) -> None:
    ref = await rt.spawn(Service)
    await _calls(ref, 50)
    report = HealthMonitor(rt.metrics, SLOS).evaluate()
    assert report.status is HealthStatus.OK
    assert report.drivers == ()
    assert report.signal("error_rate").samples == 50
    await ref.stop()


async def test_errors_drive_the_status_and_the_report_says_why(rt: bastion.Runtime) -> None:
    sup = await rt.start_supervisor([bastion.ChildSpec("s", Service)], intensity=LENIENT)
    ref = sup.child("s")
    await _calls(ref, 40, crash=10)
    report = HealthMonitor(rt.metrics, SLOS).evaluate()
    assert report.status is HealthStatus.FAILING
    (driver,) = report.drivers
    assert (driver.signal, driver.value, driver.failing) == ("error_rate", 0.2, 0.2)
    assert driver.window == 60.0
    await sup.stop()


async def test_old_errors_leave_the_window(rt: bastion.Runtime, clock: VirtualClock) -> None:
    sup = await rt.start_supervisor([bastion.ChildSpec("s", Service)], intensity=LENIENT)
    monitor = HealthMonitor(rt.metrics, SLOS)
    await _calls(sup.child("s"), 20, crash=10)
    assert monitor.evaluate().status is HealthStatus.FAILING
    await clock.advance(61.0)  # the crashes are now older than the window
    await _calls(sup.child("s"), 20)
    report = monitor.evaluate()
    assert report.status is HealthStatus.OK
    assert report.signal("error_rate").samples == 20
    await sup.stop()


async def test_latency_percentiles_under_virtual_time(rt: bastion.Runtime) -> None:
    ref = await rt.spawn(Service)
    await _calls(ref, 95)
    for _ in range(5):
        await ref.call(("slow", 1.0))
    monitor = HealthMonitor(rt.metrics, SLOS)
    report = monitor.evaluate()
    assert report.signal("latency_p99").value == pytest.approx(1.0, rel=0.01)
    assert report.status is HealthStatus.DEGRADED
    assert monitor.measure("latency_p50") < 0.001
    await ref.stop()


async def test_too_few_samples_are_not_judged(rt: bastion.Runtime) -> None:
    sup = await rt.start_supervisor([bastion.ChildSpec("s", Service)], intensity=LENIENT)
    await _calls(sup.child("s"), 2, crash=2)
    report = HealthMonitor(rt.metrics, SLOS, min_samples=10).evaluate()
    assert report.signal("error_rate").value == 0.5
    assert report.status is HealthStatus.OK
    await sup.stop()


async def test_canary_and_baseline_are_judged_from_the_same_numbers(rt: bastion.Runtime) -> None:
    sup = await rt.start_supervisor([bastion.ChildSpec("s", Service)], intensity=LENIENT)
    ref = sup.child("s")
    with cohort("baseline"):
        await _calls(ref, 50)
    with cohort("canary"):
        await _calls(ref, 10, crash=10)
    canary = HealthMonitor(rt.metrics, SLOS, cohort="canary").evaluate()
    baseline = HealthMonitor(rt.metrics, SLOS, cohort="baseline").evaluate()
    assert (canary.status, baseline.status) == (HealthStatus.FAILING, HealthStatus.OK)
    assert canary.cohort == "canary"
    await sup.stop()


async def test_restart_rate_and_dead_letters(rt: bastion.Runtime) -> None:
    sup = await rt.start_supervisor([bastion.ChildSpec("s", Service)], intensity=LENIENT)
    await _calls(sup.child("s"), 0, crash=3)
    slos = (SLO("restart_rate", 1.0, 5.0, window=60.0), SLO("dead_letter_rate", 1.0, 2.0))
    report = HealthMonitor(rt.metrics, slos).evaluate()
    assert report.signal("restart_rate").value == pytest.approx(3.0)  # 3 in the first minute
    assert report.status is HealthStatus.DEGRADED
    await sup.stop()


def test_bad_slos_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown health signal 'errors'"):
        SLO("errors", 0.1, 0.2)
    with pytest.raises(ValueError, match="failing"):
        SLO("error_rate", 0.5, 0.1)
    with pytest.raises(ValueError, match="window"):
        SLO("error_rate", 0.1, 0.2, window=0)
    with pytest.raises(TypeError, match="MetricsRegistry"):
        HealthMonitor("rt.metrics")  # type: ignore[arg-type]


async def test_measure_rejects_unknown_signals(rt: bastion.Runtime) -> None:
    with pytest.raises(ValueError, match="known signals"):
        HealthMonitor(rt.metrics).measure("cpu")


async def test_monitor_agent_samples_carry_the_health_report(rt: bastion.Runtime) -> None:
    monitor = await rt.spawn(MonitorAgent, name="monitor", interval=5.0, slos=SLOS)
    sample = await act(monitor, "collect")
    assert isinstance(sample.report, HealthReport)
    assert sample.report.status is HealthStatus.OK
    await monitor.stop()


@pytest.mark.bastion(runtime={"metrics": False})
async def test_monitor_agent_needs_metrics(rt: bastion.Runtime) -> None:
    with pytest.raises(bastion.StartFailed, match="metrics=True"):
        await rt.spawn(MonitorAgent, name="monitor")
    with pytest.raises(ValueError, match="metrics=True"):
        HealthMonitor(rt.metrics)

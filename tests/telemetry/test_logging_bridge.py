"""Failure records on stdlib logging, each carrying the error context that caused it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import bastion
import bastion.lowlevel
import bastion.testing
from bastion import telemetry
from bastion.agents import act
from bastion.persistence import Put, SQLiteStore
from bastion.resilience import (
    CircuitBreaker,
    ErrorContextFilter,
    NetworkError,
    Retry,
    error_scope,
    instant_retries,
    structlog_processor,
)
from tests.agents.test_persistent_agent import Shop


class Crashy(bastion.Actor):
    def handle_call(self, message: Any) -> Any:
        if message == "crash":
            raise KeyError("requested crash")
        return message


def _records(caplog: pytest.LogCaptureFixture, event: str) -> list[Any]:
    return [r for r in caplog.records if getattr(r, "bastion_event", None) == event]


async def test_a_crash_record_names_the_request_that_caused_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Crashy, name="crashy")
        with (
            caplog.at_level(logging.INFO, logger="bastion"),
            error_scope("checkout", correlation_id="req-CRASH"),
            pytest.raises(bastion.ActorCrashed),
        ):
            await ref.call("crash", timeout=1.0)
        await ref.wait_stopped(timeout=1.0)
    (record,) = _records(caplog, "actor.crash")
    assert record.name == "bastion.actor"
    assert record.levelno == logging.ERROR
    assert record.bastion_actor == "Crashy(crashy)"
    assert record.bastion_correlation_id == "req-CRASH"
    assert record.bastion_operation == "checkout"
    assert isinstance(record.bastion_operation_id, int)
    assert record.exc_info[0] is KeyError
    assert "KeyError" in record.bastion_reason


async def test_restart_and_escalation_records_carry_the_crashing_requests_context(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with bastion.open_runtime() as rt:
        spec = bastion.ChildSpec(id="worker", actor=Crashy, name="worker")
        sup = await rt.start_supervisor([spec], intensity=bastion.RestartIntensity(1, 60.0))
        worker = rt.ref("worker")
        with caplog.at_level(logging.INFO, logger="bastion"):
            for attempt in ("req-1", "req-2"):
                await bastion.testing.wait_for(lambda: worker.is_alive)
                with (
                    error_scope("job", correlation_id=attempt),
                    pytest.raises(bastion.ActorCrashed),
                ):
                    await worker.call("crash", timeout=1.0)
            await sup.ref.wait_stopped(timeout=5.0)
    (restart,) = _records(caplog, "supervisor.restart")
    assert restart.levelno == logging.WARNING
    assert restart.bastion_child == "worker"
    assert restart.bastion_correlation_id == "req-1"
    assert "KeyError" in restart.bastion_reason
    (escalation,) = _records(caplog, "supervisor.escalation")
    assert escalation.levelno == logging.ERROR
    assert escalation.bastion_child == "worker"
    assert escalation.bastion_correlation_id == "req-2"


def test_retry_exhausted_and_breaker_opened_records_carry_the_current_context(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def down() -> str:
        raise NetworkError("down")

    retry = Retry(attempts=3, target="inventory")
    breaker = CircuitBreaker("payments", minimum_calls=2, failure_rate=0.5)
    with (
        caplog.at_level(logging.INFO, logger="bastion"),
        error_scope("sync", correlation_id="req-RETRY"),
        instant_retries(),
    ):
        with pytest.raises(NetworkError):
            retry.call(down)
        for _ in range(2):
            with pytest.raises(NetworkError):
                breaker.call_sync(down)
    (exhausted,) = _records(caplog, "retry.exhausted")
    assert exhausted.levelno == logging.WARNING
    assert exhausted.bastion_target == "inventory"
    assert exhausted.bastion_attempts == 3
    assert exhausted.bastion_correlation_id == "req-RETRY"
    (opened,) = _records(caplog, "breaker.opened")
    assert opened.levelno == logging.WARNING
    assert opened.bastion_breaker == "payments"
    assert opened.bastion_correlation_id == "req-RETRY"


async def test_dead_letter_record(caplog: pytest.LogCaptureFixture) -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Crashy)
        await ref.stop()
        with (
            caplog.at_level(logging.INFO, logger="bastion"),
            error_scope("notify", correlation_id="req-DEAD"),
        ):
            bastion.lowlevel.send(ref, "hello?")  # noqa: BAS101 -- the dead-letter path under test
    (letter,) = _records(caplog, "dead_letter")
    assert letter.levelno == logging.WARNING
    assert letter.name == "bastion.dead_letters"
    assert letter.bastion_correlation_id == "req-DEAD"


async def test_quarantine_record(
    rt: bastion.Runtime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db") as store:
        ref = await rt.spawn(Shop, name="shop", store=store)
        await act(ref, "sell", sku="a")
        await ref.stop()
        await store.write([Put("agent/broken", "state", b"\x00garbage")])
        with (
            caplog.at_level(logging.INFO, logger="bastion"),
            error_scope("boot", correlation_id="req-BOOT"),
        ):
            broken = await rt.spawn(Shop, name="broken", store=store)
        await broken.stop()
    (record,) = _records(caplog, "agent.state_quarantined")
    assert record.levelno == logging.ERROR
    assert record.name == "bastion.persistence"
    assert record.bastion_agent == "broken"
    assert record.bastion_correlation_id == "req-BOOT"


async def test_the_bridge_is_on_by_default_and_one_call_turns_it_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert telemetry._logging.HANDLER_ID in telemetry.attached_handlers()
    try:
        assert telemetry.stop_logging_events() is True
        assert telemetry.stop_logging_events() is False
        async with bastion.open_runtime() as rt:
            ref = await rt.spawn(Crashy)
            with (
                caplog.at_level(logging.INFO, logger="bastion"),
                pytest.raises(bastion.ActorCrashed),
            ):
                await ref.call("crash", timeout=1.0)
            await ref.wait_stopped(timeout=1.0)
        assert _records(caplog, "actor.crash") == []
    finally:
        telemetry.log_events()
        telemetry.log_events()  # idempotent
    assert telemetry._logging.HANDLER_ID in telemetry.attached_handlers()


def test_filter_and_structlog_processor_show_a_records_own_context_fields() -> None:
    record = logging.LogRecord("bastion.actor", logging.ERROR, __file__, 1, "crash", (), None)
    record.bastion_correlation_id = "req-REC"
    record.bastion_operation_id = 7
    record.bastion_operation = "pay"
    record.bastion_operation_path = "checkout > pay"
    with error_scope("unrelated", correlation_id="req-OTHER"):
        ErrorContextFilter().filter(record)
        event = structlog_processor(
            None,
            "error",
            {
                "event": "x",
                "bastion_correlation_id": "req-S",
                "bastion_operation_id": 8,
                "bastion_operation": "ship",
                "bastion_operation_path": "ship",
            },
        )
        plain = structlog_processor(None, "info", {"event": "y"})
    assert record.correlation_id == "req-REC"  # type: ignore[attr-defined]
    assert record.operation_path == "checkout > pay"  # type: ignore[attr-defined]
    assert event["correlation_id"] == "req-S"
    assert event["bastion_correlation_id"] == "req-S"
    assert plain["correlation_id"] == plain["bastion_correlation_id"] == "req-OTHER"

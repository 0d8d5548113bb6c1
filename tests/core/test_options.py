"""Option objects: one validated ``RuntimeOptions``, and a sentinel the type checker sees."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import bastion
from bastion._core._ref import DEFAULT, UseDefault


async def test_open_runtime_forwards_to_one_validated_options_object() -> None:
    async with bastion.open_runtime(call_timeout=2, mailbox_capacity=7, max_threads=3) as rt:
        assert rt.options == bastion.RuntimeOptions(
            call_timeout=2.0, mailbox_capacity=7, max_threads=3
        )
        assert rt.options.call_timeout == 2.0
        assert isinstance(rt.options.call_timeout, float)
        assert rt.call_timeout == 2.0
        assert rt.options.shutdown_timeout == 5.0


def test_options_fill_in_the_thread_default_and_are_frozen() -> None:
    options = bastion.RuntimeOptions()
    assert isinstance(options.max_threads, int)
    assert options.max_threads >= 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.call_timeout = 1.0  # type: ignore[misc]


async def test_an_unknown_option_is_a_type_error_listing_the_valid_ones() -> None:
    with pytest.raises(TypeError, match=r"unknown runtime option\(s\) \['call_timout'\]") as info:
        async with bastion.open_runtime(call_timout=1.0):
            pass
    assert "call_timeout" in str(info.value)
    assert "shutdown_timeout" in str(info.value)


@pytest.mark.parametrize(
    ("option", "bad"),
    [("mailbox_capacity", 0), ("dead_letter_capacity", True), ("max_threads", 1.5)],
)
def test_bad_capacities_are_refused_by_the_options_object(option: str, bad: object) -> None:
    with pytest.raises(ValueError, match=option):
        bastion.RuntimeOptions(**{option: bad})  # type: ignore[arg-type]


def test_bastion_run_refuses_bad_options_before_running_anything() -> None:
    ran: list[int] = []

    async def main() -> None:
        ran.append(1)

    with pytest.raises(TypeError, match="unknown runtime option"):
        bastion.run(main, handle_signals=False, mailbox_size=3)
    with pytest.raises(ValueError, match="shutdown_timeout"):
        bastion.run(main, handle_signals=False, shutdown_timeout=0)
    assert ran == []


def test_the_default_sentinel_is_a_typed_one_member_enum() -> None:
    assert isinstance(DEFAULT, UseDefault)
    assert list(UseDefault) == [DEFAULT]
    assert repr(DEFAULT) == "DEFAULT"
    hints = inspect.signature(bastion.ActorRef.call).parameters["timeout"].annotation
    assert "UseDefault" in str(hints)


def test_restart_intensity_is_validated_once_and_frozen() -> None:
    intensity = bastion.RestartIntensity(max_restarts=10, max_seconds=60)
    assert intensity.max_seconds == 60.0
    assert isinstance(intensity.max_seconds, float)
    assert bastion.RestartIntensity() == bastion.RestartIntensity(3, 5.0)  # Elixir's default
    with pytest.raises(dataclasses.FrozenInstanceError):
        intensity.max_restarts = 1  # type: ignore[misc]
    for bad in (-1, True, 2.5):
        with pytest.raises(ValueError, match="max_restarts"):
            bastion.RestartIntensity(max_restarts=bad)  # type: ignore[arg-type]


async def test_supervisors_take_the_intensity_object_and_report_it() -> None:
    async with bastion.open_runtime() as rt:
        intensity = bastion.RestartIntensity(max_restarts=7, max_seconds=30.0)
        sup = await rt.start_supervisor([], intensity=intensity)
        stats = sup.statistics()
        assert (stats.max_restarts, stats.max_seconds) == (7, 30.0)
        dynamic = await rt.start_dynamic_supervisor(intensity=intensity, max_children=2)
        assert dynamic.statistics().max_restarts == 7
        with pytest.raises(TypeError, match="RestartIntensity"):
            await rt.start_supervisor([], intensity=(3, 5.0))  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="max_restarts"):
            await rt.start_supervisor([], max_restarts=3)  # type: ignore[call-arg]
        await dynamic.stop()
        await sup.stop()

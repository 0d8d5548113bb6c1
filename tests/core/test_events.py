"""The telemetry event bus: attach, detach, span, failing handlers."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import bastion
import bastion.lowlevel
from bastion import telemetry
from tests.core.conftest import Echo


def test_attach_emit_detach() -> None:
    seen: list[Any] = []
    telemetry.attach("t1", [("app", "x")], lambda e, m, md: seen.append((e, m, md)))
    try:
        telemetry.emit(("app", "x"), {"n": 1}, {"k": "v"})
        telemetry.emit(("app", "other"), {"n": 2})
    finally:
        assert telemetry.detach("t1") is True
    telemetry.emit(("app", "x"), {"n": 3})
    assert seen == [(("app", "x"), {"n": 1}, {"k": "v"})]
    assert telemetry.detach("t1") is False


def test_duplicate_ids_and_bad_event_names_are_rejected() -> None:
    telemetry.attach("dup", [("a",)], lambda *a: None)
    try:
        with pytest.raises(ValueError, match="attached already"):
            telemetry.attach("dup", [("a",)], lambda *a: None)
    finally:
        telemetry.detach("dup")
    with pytest.raises(ValueError, match="at least one"):
        telemetry.attach("none", [], lambda *a: None)
    with pytest.raises(ValueError, match="tuples of str"):
        telemetry.attach("bad", [("a", 1)], lambda *a: None)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="callable"):
        telemetry.attach("nc", [("a",)], 5)  # type: ignore[arg-type]
    assert "none" not in telemetry.attached_handlers()


def test_a_failing_handler_is_detached_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def broken(*args: Any) -> None:
        calls.append(1)
        raise RuntimeError("handler bug")

    good: list[int] = []
    telemetry.attach("broken", [("app", "e")], broken)
    telemetry.attach("good", [("app", "e")], lambda *a: good.append(1))
    try:
        with caplog.at_level(logging.ERROR, logger="bastion.telemetry"):
            telemetry.emit(("app", "e"))
            telemetry.emit(("app", "e"))
    finally:
        telemetry.detach("good")
    assert calls == [1]
    assert good == [1, 1]
    assert "broken" not in telemetry.attached_handlers()
    assert "detached" in caplog.text
    assert telemetry.statistics().failed_handlers_detached >= 1


def test_span_emits_start_and_stop_or_exception() -> None:
    seen: list[Any] = []
    names = [("app", "op", s) for s in ("start", "stop", "exception")]
    telemetry.attach("span", names, lambda e, m, md: seen.append((e[-1], dict(md))))
    try:
        with telemetry.span(("app", "op"), {"id": 1}) as extra:
            extra["rows"] = 3
        with pytest.raises(KeyError), telemetry.span(("app", "op"), {"id": 2}):
            raise KeyError("x")
    finally:
        telemetry.detach("span")
    assert [s[0] for s in seen] == ["start", "stop", "start", "exception"]
    assert seen[1][1] == {"id": 1, "rows": 3}
    assert seen[3][1]["kind"] == "KeyError"


async def test_the_kernel_emits_lifecycle_events() -> None:
    seen: list[tuple[str, ...]] = []
    events = [
        ("bastion", "actor", "start"),
        ("bastion", "actor", "stop"),
        ("bastion", "actor", "crash"),
        ("bastion", "call", "timeout"),
        ("bastion", "mailbox", "full"),
        ("bastion", "dead_letter"),
    ]
    telemetry.attach("kernel", events, lambda e, m, md: seen.append(e))
    try:
        async with bastion.open_runtime() as rt:
            ref = await rt.spawn(Echo, mailbox_capacity=1)
            with pytest.raises(bastion.ActorCrashed):
                await ref.call("crash")
            other = await rt.spawn(Echo)
            await other.stop()
            bastion.lowlevel.send(other, "x")
    finally:
        telemetry.detach("kernel")
    assert ("bastion", "actor", "start") in seen
    assert ("bastion", "actor", "crash") in seen
    assert ("bastion", "actor", "stop") in seen
    assert ("bastion", "dead_letter") in seen

"""Continuations: continue_with + handle_continue run before the next message."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import bastion
from bastion import ChildSpec
from bastion.testing import actor_state, capture_events, settle, wait_for
from tests.core.conftest import Boom


class Loader(bastion.Actor):
    """Starts fast; loads in a continuation that waits for the test's ``ready`` event."""

    def __init__(self, ready: asyncio.Event) -> None:
        self.ready = ready
        self.log: list[str] = []

    def on_start(self) -> None:
        self.log.append("start")
        self.continue_with("load")

    async def handle_continue(self, message: Any) -> None:
        await self.ready.wait()
        self.log.append(message)

    def handle_call(self, message: Any) -> Any:
        self.log.append(message)
        return list(self.log)


class Steps(bastion.Actor):
    """Records messages and continuations; a message ``("then", x)`` continues with x."""

    def __init__(self) -> None:
        self.log: list[Any] = []

    def handle_cast(self, message: Any) -> None:
        self.log.append(message)
        match message:
            case ("then", next_step):
                self.continue_with(next_step)
            case "stop":
                self.continue_with("never")
                self.stop()

    def handle_continue(self, message: Any) -> None:
        self.log.append(f"continue:{message}")
        match message:
            case "crash":
                raise Boom("continuation crashed")
            case "refuse":
                raise bastion.BusinessError("continuation refused")
            case "chain":
                self.continue_with("chained")

    def handle_call(self, message: Any) -> Any:
        return list(self.log)


async def test_on_start_continuation_runs_after_spawn_returns_and_before_any_message() -> None:
    ready = asyncio.Event()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Loader, ready)  # returns while the continuation waits
        answer = asyncio.ensure_future(ref.call("first"))
        await settle()
        assert not answer.done()
        ready.set()
        assert await answer == ["start", "load", "first"]


async def test_a_continuation_runs_before_messages_already_queued() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Steps)
        for message in (("then", "a"), "m2", "m3"):
            ref.cast_nowait(message)  # all queued before the actor runs
        assert await ref.call("log") == [("then", "a"), "continue:a", "m2", "m3"]


async def test_a_continuation_may_continue_again() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Steps)
        ref.cast_nowait(("then", "chain"))
        ref.cast_nowait("next")
        log = await ref.call("log")
        assert log == [("then", "chain"), "continue:chain", "continue:chained", "next"]


async def test_a_crash_in_a_continuation_is_a_crash_and_the_supervisor_restarts() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor([ChildSpec("s", Steps, name="s")])
        first = rt.whereis("s")
        assert first is not None
        await first.cast(("then", "crash"))
        reason = await first.wait_stopped()
        assert isinstance(reason, Boom)
        await rt.wait_idle()
        assert await rt.ref("s").call("log") == []  # a fresh incarnation
        assert sup.statistics().restarts == 1


async def test_queued_callers_hear_of_a_crash_in_a_continuation() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Steps)
        ref.cast_nowait(("then", "crash"))
        with pytest.raises(bastion.ActorNotAlive) as info:
            await ref.call("log")
        assert isinstance(info.value.__cause__, Boom)


async def test_an_expected_error_in_a_continuation_is_reported_and_the_actor_lives_on() -> None:
    with capture_events(("bastion", "actor", "expected_error")) as events:
        async with bastion.open_runtime() as rt:
            ref = await rt.spawn(Steps)
            await ref.cast(("then", "refuse"))
            assert await ref.call("log") == [("then", "refuse"), "continue:refuse"]
    [event] = events.named("bastion", "actor", "expected_error")
    assert event.metadata["kind"] == "continue"


async def test_a_stop_in_the_same_handler_drops_the_continuation_without_dead_letters() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Steps)
        await ref.cast("stop")
        assert await ref.wait_stopped() == "normal"
        assert rt.dead_letters.items() == []


async def test_a_failed_start_drops_its_continuation_without_dead_letters() -> None:
    class BadStart(Steps):
        def on_start(self) -> None:
            self.continue_with("load")
            raise Boom("start failed")

    async with bastion.open_runtime() as rt:
        with pytest.raises(bastion.StartFailed) as info:
            await rt.spawn(BadStart)
        assert isinstance(info.value.__cause__, Boom)
        assert rt.dead_letters.items() == []


async def test_misuse_of_continue_with_is_a_clear_error() -> None:
    errors: list[str] = []

    class NoHandler(bastion.Actor):
        def handle_call(self, message: Any) -> Any:
            self.continue_with(message)
            return "unreachable"

    class Twice(Steps):
        def handle_call(self, message: Any) -> Any:
            self.continue_with("one")
            try:
                self.continue_with("two")
            except bastion.ActorError as exc:
                errors.append(str(exc))
            return "ok"

        async def on_stop(self, reason: Any) -> None:
            try:
                self.continue_with("too late")
            except bastion.ActorError:
                errors.append("on_stop")

    async with bastion.open_runtime() as rt:
        bare = await rt.spawn(NoHandler)
        with pytest.raises(bastion.ActorCrashed) as info:
            await bare.call("x")
        assert isinstance(info.value.__cause__, TypeError)
        assert "handle_continue" in str(info.value.__cause__)

        twice = await rt.spawn(Twice)
        assert await twice.call("x") == "ok"
        await wait_for(lambda: "continue:one" in actor_state(twice).log)
        assert "one at a time" in errors[0]
        with pytest.raises(bastion.ActorError):
            actor_state(twice).continue_with("from outside")
        await twice.stop()
        assert errors[1:] == ["on_stop"]

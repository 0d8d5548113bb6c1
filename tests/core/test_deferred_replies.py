"""Deferred replies: NoReply plus a ReplyHandle answered later (OTP's noreply + reply/2)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import bastion
from bastion.testing import actor_state, wait_for
from tests.core.conftest import Boom, until


class Coordinator(bastion.Actor):
    """Defers ``("job", key)`` calls until a ``("done", key, value)`` cast answers them."""

    def __init__(self) -> None:
        self.pending: dict[str, bastion.ReplyHandle] = {}
        self.answered: list[bool] = []

    def handle_call(self, message: Any) -> Any:
        match message:
            case ("job", key):
                self.pending[key] = self.reply_handle()
                return bastion.NoReply
            case ("handle", key):
                return self.pending[key]
            case "crash":
                raise Boom("coordinator crashed")
            case "quit":
                self.stop()
                return "bye"
        return message

    def handle_cast(self, message: Any) -> None:
        match message:
            case ("done", key, value):
                self.answered.append(self.pending.pop(key).reply(value))
            case ("fail", key, error):
                self.answered.append(self.pending.pop(key).fail(error))
            case "crash":
                raise Boom("coordinator crashed")


async def test_a_deferred_call_is_answered_later_while_other_calls_go_on() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Coordinator)
        job = asyncio.ensure_future(ref.call(("job", "a"), timeout=2.0))
        await until(lambda: ref.statistics().processed == 1)
        assert await ref.call("ping") == "ping"  # the mailbox is not blocked
        assert not job.done()
        await ref.cast(("done", "a", 42))
        assert await job == 42
        assert rt.statistics().late_replies == 0


async def test_another_actor_can_answer_with_the_handle() -> None:
    class Worker(bastion.Actor):
        def handle_cast(self, message: Any) -> None:
            handle, value = message
            handle.reply(value * 2)

    class Forwarder(bastion.Actor):
        def __init__(self, worker: bastion.ActorRef) -> None:
            self.worker = worker

        def handle_call(self, message: Any) -> Any:
            self.worker.cast_nowait((self.reply_handle(), message))
            return bastion.NoReply

    async with bastion.open_runtime() as rt:
        worker = await rt.spawn(Worker)
        forwarder = await rt.spawn(Forwarder, worker)
        assert await forwarder.call(21) == 42


async def test_fail_raises_the_error_at_the_caller_and_the_actor_lives_on() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Coordinator)
        job = asyncio.ensure_future(ref.call(("job", "a")))
        await until(lambda: ref.statistics().processed == 1)
        await ref.cast(("fail", "a", bastion.BusinessError("refused")))
        with pytest.raises(bastion.BusinessError, match="refused"):
            await job
        assert ref.is_alive


async def test_fail_refuses_what_is_not_an_exception() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Coordinator)
        job = asyncio.ensure_future(ref.call(("job", "a")))
        await until(lambda: ref.statistics().processed == 1)
        handle = await ref.call(("handle", "a"))
        for bad in ("an error", ValueError, asyncio.CancelledError()):
            with pytest.raises(TypeError, match="Exception instance"):
                handle.fail(bad)
        assert handle.pending  # bad input lost nothing: the call can still be answered
        assert handle.reply("ok") is True
        assert await job == "ok"


async def test_answering_twice_is_an_error_and_the_first_answer_stands() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Coordinator)
        job = asyncio.ensure_future(ref.call(("job", "a")))
        await until(lambda: ref.statistics().processed == 1)
        handle = await ref.call(("handle", "a"))
        assert handle.reply(1) is True
        assert not handle.pending
        with pytest.raises(bastion.ActorError, match="already answered"):
            handle.reply(2)
        with pytest.raises(bastion.ActorError, match="already answered"):
            handle.fail(ValueError("late"))
        assert await job == 1
        assert "answered" in repr(handle)


async def test_the_callers_deadline_applies_and_a_late_answer_is_counted() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Coordinator)
        with pytest.raises(bastion.CallTimeout):
            await ref.call(("job", "a"), timeout=0.5)
        handle = await ref.call(("handle", "a"))
        assert not handle.pending
        await ref.cast(("done", "a", "too late"))
        await wait_for(lambda: ref.statistics().late_replies == 1)
        assert await ref.call("answered") == "answered"
        state = actor_state(ref)
        assert isinstance(state, Coordinator)
        assert state.answered == [False]
        assert rt.statistics().late_replies == 1
        assert rt.statistics().call_timeouts == 1


@pytest.mark.parametrize("how", ["call", "cast"])
async def test_a_crash_before_the_answer_gives_the_caller_actor_crashed(how: str) -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Coordinator)
        job = asyncio.ensure_future(ref.call(("job", "a")))
        await until(lambda: ref.statistics().processed == 1)
        if how == "call":
            with pytest.raises(bastion.ActorCrashed):
                await ref.call("crash")
        else:
            await ref.cast("crash")
        with pytest.raises(bastion.ActorCrashed, match="before replying") as info:
            await job
        assert isinstance(info.value.__cause__, Boom)


async def test_a_stop_before_the_answer_gives_the_caller_actor_not_alive() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Coordinator)
        jobs = [asyncio.ensure_future(ref.call(("job", key))) for key in "ab"]
        await until(lambda: ref.statistics().processed == 2)
        assert await ref.call("quit") == "bye"
        for job in jobs:
            with pytest.raises(bastion.ActorNotAlive, match="before replying"):
                await job
        assert rt.statistics().call_timeouts == 0


async def test_a_kill_before_the_answer_gives_the_caller_actor_not_alive() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Coordinator)
        job = asyncio.ensure_future(ref.call(("job", "a")))
        await until(lambda: ref.statistics().processed == 1)
        handle = await ref.call(("handle", "a"))
        ref.kill()
        with pytest.raises(bastion.ActorNotAlive, match="before replying"):
            await job
        assert handle.reply("after death") is False  # dropped, counted, no error
        assert rt.statistics().late_replies == 1


async def test_no_reply_without_a_handle_crashes_the_actor_and_tells_the_caller() -> None:
    class Forgetful(bastion.Actor):
        def handle_call(self, message: Any) -> Any:
            return bastion.NoReply

    assert repr(bastion.NoReply) == "bastion.NoReply"
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Forgetful)
        with pytest.raises(bastion.ActorCrashed) as info:
            await ref.call("x")
        assert isinstance(info.value.__cause__, bastion.ActorError)
        assert "reply_handle" in str(info.value.__cause__)
        reason = await ref.wait_stopped()
        assert isinstance(reason, bastion.ActorError)


async def test_answering_inside_the_handler_before_returning_no_reply_is_not_late() -> None:
    class Immediate(bastion.Actor):
        def handle_call(self, message: Any) -> Any:
            self.reply_handle().reply(message + 1)
            return bastion.NoReply

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Immediate)
        assert await ref.call(1) == 2
        assert ref.statistics().late_replies == 0


async def test_a_returned_value_answers_even_after_taking_a_handle() -> None:
    class Both(bastion.Actor):
        def __init__(self) -> None:
            self.handle: bastion.ReplyHandle | None = None

        def handle_call(self, message: Any) -> Any:
            if message == "late":
                assert self.handle is not None
                return self.handle.reply("second")
            self.handle = self.reply_handle()
            return "first"

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Both)
        assert await ref.call("x") == "first"
        assert await ref.call("late") is False
        assert ref.statistics().late_replies == 1


async def test_reply_handle_outside_handle_call_is_an_error() -> None:
    errors: list[str] = []

    class Misuser(bastion.Actor):
        def on_start(self) -> None:
            self._try("on_start")

        def _try(self, where: str) -> None:
            try:
                self.reply_handle()
            except bastion.ActorError:
                errors.append(where)

        def handle_cast(self, message: Any) -> None:
            self._try("cast")

        def handle_info(self, message: Any) -> None:
            self._try("info")

        async def handle_call(self, message: Any) -> Any:
            if message == "twice":
                handle = self.reply_handle()
                self._try("second take")
                handle.reply("ok")
                return bastion.NoReply
            if message == "task":
                await self.runtime.tasks.run(self._from_task, timeout=1.0)
            if message == "timer":
                self.send_after(0, "tick")
            return message

        async def _from_task(self) -> None:
            self._try("task")

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Misuser)
        await ref.cast("x")
        await ref.call("timer")
        await rt.wait_idle()
        assert await ref.call("twice") == "ok"
        assert await ref.call("task") == "task"
        assert errors == ["on_start", "cast", "info", "second take", "task"]
        assert ref.is_alive


async def test_answering_from_another_thread_is_refused_and_loses_nothing() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Coordinator)
        job = asyncio.ensure_future(ref.call(("job", "a")))
        await until(lambda: ref.statistics().processed == 1)
        handle = await ref.call(("handle", "a"))
        with pytest.raises(bastion.ActorError, match="another thread"):
            await rt.tasks.run_blocking(handle.reply, "from a thread", timeout=1.0)
        assert handle.pending
        assert handle.reply("from the loop") is True
        assert await job == "from the loop"


def test_the_new_framework_methods_are_reserved_names() -> None:
    for name in ("reply_handle", "continue_with"):
        with pytest.raises(TypeError, match="reserved"):
            type("Clash", (bastion.Actor,), {name: lambda self: None})


async def test_an_answered_deferred_call_leaves_the_pending_set_at_once() -> None:
    # Answering removes the call from the actor's pending replies right there: no
    # done-callback per deferred reply (it cost a turn of the loop per acknowledgement).
    class Answerer(Coordinator):
        def __init__(self) -> None:
            super().__init__()
            self.pending_after: list[int] = []

        def handle_cast(self, message: Any) -> None:
            super().handle_cast(message)
            deferred = self.ref._resolve().deferred
            self.pending_after.append(len(deferred or ()))

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Answerer)
        jobs = [asyncio.ensure_future(ref.call(("job", k), timeout=2.0)) for k in "ab"]
        await until(lambda: ref.statistics().processed == 2)
        await ref.cast(("done", "a", 1))
        await ref.cast(("done", "b", 2))
        assert await asyncio.gather(*jobs) == [1, 2]
        assert actor_state(ref).pending_after == [1, 0]


async def test_deferred_calls_never_answered_after_their_deadline_do_not_pile_up() -> None:
    class Sink(bastion.Actor):
        def handle_call(self, message: Any) -> Any:
            self.reply_handle()  # dropped: never answered
            return bastion.NoReply

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Sink)
        for n in range(300):
            with pytest.raises(bastion.CallTimeout):
                await ref.call(n, timeout=0.01)
        deferred = ref._resolve().deferred
        assert deferred is not None
        assert len(deferred) <= 64  # swept as it grows: about twice the calls pending

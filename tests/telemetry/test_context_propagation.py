"""Error context crosses message boundaries: it travels with each message."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import bastion
from bastion.resilience import ErrorContextFilter, current_context, error_scope


class Whoami(bastion.Actor):
    """Replies with (and logs) the correlation id current while it handles a message."""

    def __init__(self) -> None:
        self.seen: list[str | None] = []

    def _record(self) -> str | None:
        ctx = current_context()
        corr = None if ctx is None else ctx.correlation_id
        logging.getLogger("tests.whoami").info("handling")
        self.seen.append(corr)
        return corr

    def handle_call(self, message: Any) -> Any:
        if message == "seen":
            return list(self.seen)
        return self._record()

    def handle_cast(self, message: Any) -> None:
        self._record()

    def handle_info(self, message: Any) -> None:
        self._record()


@pytest.fixture
def context_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.handler.addFilter(ErrorContextFilter())
    caplog.set_level(logging.INFO, logger="tests.whoami")
    return caplog


def _logged_ids(caplog: pytest.LogCaptureFixture) -> list[str | None]:
    return [r.correlation_id for r in caplog.records if r.name == "tests.whoami"]  # type: ignore[attr-defined]


async def test_a_dormant_actor_takes_each_callers_context_not_the_first_ones(
    context_logs: pytest.LogCaptureFixture,
) -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Whoami)  # dormant: its task starts with the first message
        with error_scope("first", correlation_id="req-FIRST"):
            assert await ref.call("who") == "req-FIRST"
        with error_scope("second", correlation_id="req-SECOND"):
            assert await ref.call("who") == "req-SECOND"
        assert await ref.call("who") is None
    assert _logged_ids(context_logs) == ["req-FIRST", "req-SECOND", None]


async def test_an_actor_spawned_inside_a_scope_does_not_keep_the_spawners_context() -> None:
    class Started(Whoami):
        async def on_start(self) -> None:  # a task at spawn, created inside the scope
            return None

    async with bastion.open_runtime() as rt:
        with error_scope("boot", correlation_id="req-SPAWN"):
            ref = await rt.spawn(Started)
        assert await ref.call("who") is None
        with error_scope("work", correlation_id="req-WORK"):
            assert await ref.call("who") == "req-WORK"


async def test_casts_carry_the_senders_context_and_restore_it_afterwards() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Whoami)
        with error_scope("a", correlation_id="req-A"):
            await ref.cast("x")
            ref.cast_nowait("y")
        with error_scope("b", correlation_id="req-B"):
            await ref.cast("z")
        await ref.cast("none")
        assert await ref.call("seen") == ["req-A", "req-A", "req-B", None]


async def test_a_timer_message_carries_the_context_it_was_set_in(clock: Any) -> None:
    class Scheduler(Whoami):
        def handle_cast(self, message: Any) -> None:
            self.send_after(1.0, "tick")

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Scheduler)
        with error_scope("schedule", correlation_id="req-TIMER"):
            await ref.cast("arm")
        await clock.advance(2.0)  # the timer fires
        assert await ref.call("seen") == ["req-TIMER"]


async def test_the_handlers_own_breadcrumbs_do_not_leak_into_the_next_message() -> None:
    class Crumbs(bastion.Actor):
        def handle_call(self, message: Any) -> Any:
            from bastion.resilience import add_breadcrumb

            ctx = current_context()
            crumbs = [] if ctx is None else [c.name for c in ctx.breadcrumbs]
            add_breadcrumb(f"handled-{message}")
            return crumbs

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Crumbs)
        with error_scope("op", correlation_id="req-C") as ctx:
            assert await ref.call(1) == []
            assert await ref.call(2) == []
            assert current_context() is ctx
        assert await ref.call(3) == []


async def test_a_crash_carries_the_error_context_of_the_message_that_caused_it() -> None:
    from bastion.resilience import error_context_of

    class Crasher(bastion.Actor):
        def handle_call(self, message: Any) -> Any:
            raise KeyError(message)

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Crasher)
        with (
            error_scope("charge", correlation_id="req-CRASH"),
            pytest.raises(bastion.ActorCrashed) as caught,
        ):
            await ref.call("k")
        reason = await ref.wait_stopped(timeout=1.0)
    cause = caught.value.__cause__
    assert cause is reason
    ctx = error_context_of(reason)
    assert ctx is not None
    assert ctx.correlation_id == "req-CRASH"


async def test_a_crash_after_a_message_of_the_same_operation_still_carries_its_context() -> None:
    from bastion.resilience import error_context_of

    class Second(bastion.Actor):
        def handle_cast(self, message: Any) -> None:
            return None

        def handle_call(self, message: Any) -> Any:
            raise KeyError(message)

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Second)
        with error_scope("batch", correlation_id="req-SAME"):
            ref.cast_nowait("first")  # makes the context current in the actor's task
            with pytest.raises(bastion.ActorCrashed):
                await ref.call("second", timeout=1.0)  # same context: enter is skipped
        reason = await ref.wait_stopped(timeout=1.0)
    ctx = error_context_of(reason)
    assert ctx is not None
    assert ctx.correlation_id == "req-SAME"


async def test_a_continuation_runs_in_the_context_of_the_handler_that_scheduled_it() -> None:
    class Continues(Whoami):
        def handle_cast(self, message: Any) -> None:
            self.continue_with("rest")

        def handle_continue(self, message: Any) -> None:
            self._record()

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Continues)
        with error_scope("work", correlation_id="req-CONT"):
            await ref.cast("start")
        await ref.cast("no scope")
        assert await ref.call("seen", timeout=1.0) == ["req-CONT", None]

"""Supervisors: strategies, restart types, intensity, escalation, handshake, shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import bastion
from bastion import ChildSpec, Restart, Strategy
from bastion.testing import wait_for
from tests.core.conftest import Boom, Echo, until

ORDER: list[str] = []


class Tracked(bastion.Actor):
    """Logs start and stop into ORDER; crashes on request."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def on_start(self) -> None:
        ORDER.append(f"start:{self.tag}")

    def on_stop(self, reason: Any) -> None:
        ORDER.append(f"stop:{self.tag}")

    def handle_call(self, message: Any) -> Any:
        if message == "crash":
            raise Boom(self.tag)
        if message == "quit":
            self.stop()
        return self.tag

    def handle_cast(self, message: Any) -> None:
        if message == "crash":
            raise Boom(self.tag)


@pytest.fixture(autouse=True)
def _clear_order() -> None:
    ORDER.clear()


def specs(*tags: str, restart: Restart = Restart.PERMANENT) -> list[ChildSpec]:
    return [ChildSpec(t, Tracked, (t,), name=t, restart=restart) for t in tags]


async def crash(rt: bastion.Runtime, name: str) -> None:
    with pytest.raises(bastion.ActorCrashed):
        await rt.ref(name).call("crash")


async def restarted(rt: bastion.Runtime, *names: str) -> None:
    await rt.wait_idle(timeout=2.0)
    for name in names:
        assert await rt.ref(name).call("ping") == name


async def test_children_start_in_order_and_stop_in_reverse_order() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor(specs("a", "b", "c"))
        assert ORDER == ["start:a", "start:b", "start:c"]
        ORDER.clear()
        await sup.stop(timeout=5.0)
        assert ORDER == ["stop:c", "stop:b", "stop:a"]
        assert rt.statistics().actors == 0


async def test_one_for_one_restarts_only_the_failed_child() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor(specs("a", "b", "c"), strategy="one_for_one")
        ORDER.clear()
        await crash(rt, "b")
        await restarted(rt, "a", "b", "c")
        assert ORDER == ["stop:b", "start:b"]
        assert sup.statistics().restarts == 1
        assert rt.statistics().restarts == 1


async def test_one_for_all_restarts_every_child_in_order() -> None:
    async with bastion.open_runtime() as rt:
        await rt.start_supervisor(specs("a", "b", "c"), strategy=Strategy.ONE_FOR_ALL)
        ORDER.clear()
        await crash(rt, "b")
        await restarted(rt, "a", "b", "c")
        assert ORDER == ["stop:b", "stop:c", "stop:a", "start:a", "start:b", "start:c"]


async def test_rest_for_one_restarts_the_failed_child_and_those_after_it() -> None:
    async with bastion.open_runtime() as rt:
        await rt.start_supervisor(specs("a", "b", "c", "d"), strategy="rest_for_one")
        ORDER.clear()
        await crash(rt, "b")
        await restarted(rt, "a", "b", "c", "d")
        assert ORDER == ["stop:b", "stop:d", "stop:c", "start:b", "start:c", "start:d"]


async def test_names_resolve_to_the_new_incarnation_after_a_restart() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor(specs("a"))
        by_name = rt.ref("a")
        by_child = sup.child("a")
        old = rt.whereis("a")
        await crash(rt, "a")
        await rt.wait_idle(timeout=2.0)
        assert rt.whereis("a") != old
        assert await by_name.call("ping") == "a"
        assert await by_child.call("ping") == "a"
        assert old is not None
        assert not old.is_alive


async def test_transient_child_is_restarted_after_a_crash_but_not_after_normal_exit() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor(specs("t", restart=Restart.TRANSIENT))
        await crash(rt, "t")
        await restarted(rt, "t")
        await rt.ref("t").call("quit")
        await rt.wait_idle(timeout=2.0)
        assert rt.whereis("t") is None
        children = await sup.which_children()
        assert [(c.id, c.alive) for c in children] == [("t", False)]


async def test_temporary_child_is_never_restarted_and_is_removed() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor(specs("tmp", restart=Restart.TEMPORARY))
        await crash(rt, "tmp")
        await rt.wait_idle(timeout=2.0)
        assert rt.whereis("tmp") is None
        assert await sup.which_children() == []


async def test_permanent_child_is_restarted_even_after_normal_exit() -> None:
    async with bastion.open_runtime() as rt:
        await rt.start_supervisor(specs("p"))
        await rt.ref("p").call("quit")
        await restarted(rt, "p")


async def test_restart_intensity_exceeded_escalates_to_the_parent() -> None:
    events: list[Any] = []
    bastion.telemetry.attach(
        "esc", [("bastion", "supervisor", "escalation")], lambda *a: events.append(a)
    )
    try:
        async with bastion.open_runtime() as rt:
            inner = ChildSpec(
                "inner",
                bastion.Supervisor,
                (specs("w"),),
                {"intensity": bastion.RestartIntensity(2, 60.0)},
                name="inner",
                shutdown=10.0,
            )
            outer = await rt.start_supervisor([inner], intensity=bastion.RestartIntensity(5, 60.0))
            first_inner = rt.whereis("inner")
            for _ in range(3):
                await crash(rt, "w")
                await rt.wait_idle(timeout=2.0)
            assert len(events) == 1
            assert first_inner is not None
            assert not first_inner.is_alive
            assert rt.whereis("inner") not in (None, first_inner)
            assert outer.statistics().restarts == 1
            assert await rt.ref("w").call("ping") == "w"
    finally:
        bastion.telemetry.detach("esc")


async def test_top_level_supervisor_beyond_intensity_stops_its_children() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor(specs("x", "y"), intensity=bastion.RestartIntensity(0))
        await crash(rt, "x")
        reason = await sup.ref.wait_stopped(timeout=2.0)
        assert isinstance(reason, bastion.RestartIntensityExceeded)
        assert rt.whereis("y") is None
        assert rt.statistics().escalations == 1


async def test_child_start_failure_fails_the_supervisor_start_and_stops_started_children() -> None:
    class Refuses(bastion.Actor):
        def on_start(self) -> None:
            raise Boom("refused")

    async with bastion.open_runtime() as rt:
        children = [*specs("a", "b"), ChildSpec("bad", Refuses)]
        with pytest.raises(bastion.StartFailed) as info:
            await rt.start_supervisor(children)
        assert ORDER == ["start:a", "start:b", "stop:b", "stop:a"]
        assert rt.statistics().actors == 0
        cause = info.value.__cause__
        assert isinstance(cause, bastion.StartFailed)
        assert isinstance(cause.__cause__, Boom)


async def test_shutdown_kills_a_child_that_exceeds_its_shutdown_timeout() -> None:
    class Slow(bastion.Actor):
        async def on_stop(self, reason: Any) -> None:
            ORDER.append(f"stopping:{reason}")
            await asyncio.Event().wait()

    async with bastion.open_runtime(call_timeout=0.05) as rt:
        sup = await rt.start_supervisor([ChildSpec("slow", Slow, name="slow", shutdown=0.01)])
        slow = rt.whereis("slow")
        await sup.stop(timeout=2.0)
        assert slow is not None
        assert not slow.is_alive
        assert ORDER[0] == "stopping:shutdown"


async def test_dynamic_supervisor_starts_and_terminates_children() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_dynamic_supervisor(max_children=2)
        a = await sup.start_child(ChildSpec("a", Tracked, ("a",)))
        await sup.start_child(ChildSpec("b", Tracked, ("b",)))
        assert await a.call("ping") == "a"
        with pytest.raises(bastion.SupervisorError, match="at most 2"):
            await sup.start_child(ChildSpec("c", Tracked, ("c",)))
        with pytest.raises(ValueError, match="duplicate"):
            await sup.start_child(ChildSpec("a", Tracked, ("a",)))
        assert await sup.terminate_child("a") is True
        assert await sup.terminate_child("a") is True  # already down; the spec is kept
        assert not a.is_alive
        assert [c.id for c in await sup.which_children()] == ["a", "b"]
        assert await sup.delete_child("a") is True
        assert await sup.terminate_child("a") is False
        assert [c.id for c in await sup.which_children()] == ["b"]


async def test_start_child_failure_is_reported_and_the_supervisor_keeps_running() -> None:
    class Refuses(bastion.Actor):
        def on_start(self) -> None:
            raise Boom("refused")

    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor([])
        with pytest.raises(bastion.StartFailed):
            await sup.start_child(ChildSpec("bad", Refuses))
        assert sup.ref.is_alive
        assert await sup.which_children() == []


async def test_restart_backoff_delays_the_restart() -> None:
    async with bastion.open_runtime() as rt:
        backoff = bastion.Backoff(initial=0.02, maximum=0.02, jitter=0.0)
        sup = await rt.start_supervisor(specs("w"), backoff=backoff)
        await crash(rt, "w")
        await until(lambda: sup.statistics().pending_restarts == 1)
        assert rt.whereis("w") is None
        restarted_ref = await wait_for(lambda: rt.whereis("w"), timeout=2.0)
        assert await restarted_ref.call("ping") == "w"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "one_for_none"}, "strategy must be one of"),
        ({"intensity": {"max_restarts": 3}}, "intensity must be a bastion.RestartIntensity"),
        ({"max_restarts": 3}, "max_restarts"),  # the keyword list became one option object
        ({"backoff": 0.5}, "backoff"),
    ],
)
async def test_invalid_supervisor_options_raise_value_or_type_error(
    kwargs: dict[str, Any], message: str
) -> None:
    async with bastion.open_runtime() as rt:
        with pytest.raises((ValueError, TypeError), match=message):
            await rt.start_supervisor(specs("a"), **kwargs)
        assert rt.statistics().actors == 0


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ChildSpec("", Echo), "child id"),
        (lambda: ChildSpec("x", object), "Actor subclass"),  # type: ignore[arg-type]
        (lambda: ChildSpec("x", Echo, args=[1]), "tuple"),  # type: ignore[arg-type]
        (lambda: ChildSpec("x", Echo, restart="sometimes"), "restart must be"),  # type: ignore[arg-type]
        (lambda: ChildSpec("x", Echo, shutdown=0), "shutdown"),
        (lambda: ChildSpec("x", Echo, shutdown=float("inf")), "shutdown"),
    ],
)
def test_invalid_child_specs_raise_value_or_type_error(build: Any, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        build()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"multiplier": 0.5}, "multiplier"), ({"jitter": 2}, "jitter"), ({"initial": -1}, "initial")],
)
def test_invalid_backoff_arguments_raise_value_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bastion.Backoff(**kwargs)


def test_a_backoff_never_exceeds_its_maximum_and_jitter_only_shortens() -> None:
    backoff = bastion.Backoff(initial=0.1, maximum=0.4, multiplier=2.0, jitter=0.5, seed=3)
    for attempt in range(1, 8):
        cap = min(0.4, 0.1 * 2 ** (attempt - 1))
        assert cap * 0.5 <= backoff.delay(attempt) <= cap
    assert bastion.Backoff(initial=0.1, maximum=0.4, jitter=0.0).delay(9) == 0.4


async def test_duplicate_child_ids_and_names_are_rejected() -> None:
    async with bastion.open_runtime() as rt:
        with pytest.raises(ValueError, match="duplicate child id"):
            await rt.start_supervisor([ChildSpec("a", Echo), ChildSpec("a", Echo)])
        with pytest.raises(ValueError, match="duplicate child name"):
            await rt.start_supervisor(
                [ChildSpec("a", Echo, name="n"), ChildSpec("b", Echo, name="n")]
            )


async def test_runtime_shutdown_stops_supervision_trees_in_order() -> None:
    async with bastion.open_runtime() as rt:
        await rt.start_supervisor(specs("a", "b"))
        ORDER.clear()
    assert ORDER == ["stop:b", "stop:a"]


async def test_runtime_shutdown_gives_a_supervisor_its_childrens_shutdown_time() -> None:
    class SlowStop(bastion.Actor):
        def __init__(self, tag: str) -> None:
            self.tag = tag

        async def on_stop(self, reason: Any) -> None:
            await self.runtime.clock.sleep(0.6)  # slow graceful work, on the runtime clock
            ORDER.append(f"stop:{self.tag}:{reason}")

    async with bastion.open_runtime(shutdown_timeout=1.0) as rt:
        children = [ChildSpec(t, SlowStop, (t,), shutdown=1.0) for t in ("a", "b", "c")]
        await rt.start_supervisor(children)
    assert ORDER == ["stop:c:shutdown", "stop:b:shutdown", "stop:a:shutdown"]

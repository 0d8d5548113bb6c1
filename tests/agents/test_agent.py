"""Agent: declared state, validated actions, hooks, registry metadata, telemetry."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import bastion
from bastion.agents import Act, Agent, UnknownAction, act, action
from bastion.testing import capture_events, crash


class Greet(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    excited: bool = False


class Greeter(Agent):
    capabilities = ("greeting",)
    greeted: int = 0
    names: list[str] = []  # noqa: RUF012 -- declared state: each instance gets a copy

    def __init__(self, punctuation: str = ".") -> None:
        super().__init__()
        self.punctuation = punctuation
        self.log: list[str] = []

    @action
    async def greet(self, params: Greet) -> str:
        self.greeted += 1
        self.names.append(params.name)
        return f"Hello {params.name}{'!' if params.excited else self.punctuation}"

    @action
    def add(self, a: int, b: int = 1) -> int:
        return a + b

    @action(name="fail")
    async def fail_action(self, kind: str) -> None:
        if kind == "business":
            raise bastion.BusinessError("no", code="nope")
        raise RuntimeError("bug")

    @action
    def count(self) -> int:
        return self.greeted

    async def before_action(self, name: str, params: msgspec.Struct) -> None:
        self.log.append(f"before:{name}")

    async def after_action(self, name: str, params: msgspec.Struct, result: Any) -> None:
        self.log.append(f"after:{name}")

    async def on_action_error(
        self, name: str, params: msgspec.Struct, error: BaseException
    ) -> None:
        self.log.append(f"error:{name}:{type(error).__name__}")

    @action
    def hook_log(self) -> list[str]:
        return list(self.log)


async def test_actions_by_name_and_by_struct() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Greeter, "!", name="g")
        assert await act(ref, "greet", name="Ada") == "Hello Ada!"
        assert await ref.call(Greet("Bob", excited=True)) == "Hello Bob!"
        assert await act(ref, "add", a=2, b=3) == 5
        assert await act(ref, "add", a=2) == 3
        assert await act(ref, "count") == 2


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("greet", {"name": 42}, r"Expected `str`, got `int` - at `\$.name`"),
        ("greet", {}, "missing required field `name`"),
        ("greet", {"name": "x", "typo": 1}, "unknown field `typo`"),
        ("add", {"a": "one"}, "Expected `int`"),
        ("add", {"a": 1, "c": 2}, "unknown field `c`"),
    ],
)
async def test_bad_parameters_are_a_clear_error_and_the_agent_keeps_serving(
    name: str, params: dict[str, Any], match: str
) -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Greeter, name="g")
        with pytest.raises(bastion.ValidationError, match=match) as info:
            await ref.call(Act(name, params))
        assert info.value.code == "invalid_params"
        assert await act(ref, "greet", name="Ada") == "Hello Ada."
        assert ref.is_alive
        assert await act(ref, "count") == 1  # nothing of the bad call was applied


async def test_unknown_action_is_a_validation_error() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Greeter, name="g")
        with pytest.raises(UnknownAction, match="has no action 'nope'"):
            await act(ref, "nope")
        with pytest.raises(UnknownAction):
            await ref.call("a plain string")
        assert ref.is_alive


async def test_hooks_run_around_actions() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Greeter, name="g")
        await act(ref, "add", a=1)
        with pytest.raises(bastion.BusinessError):
            await act(ref, "fail", kind="business")
        assert await act(ref, "hook_log") == [
            "before:add",
            "after:add",
            "before:fail",
            "error:fail:BusinessError",
            "before:hook_log",
        ]


async def test_an_unexpected_error_crashes_the_agent_and_the_caller_is_told() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Greeter, name="g")
        with pytest.raises(bastion.ActorCrashed):
            await act(ref, "fail", kind="bug")
        await ref.wait_stopped(timeout=1.0)
        assert not ref.is_alive


async def test_declared_state_is_per_instance() -> None:
    async with bastion.open_runtime() as rt:
        a = await rt.spawn(Greeter, name="a")
        b = await rt.spawn(Greeter, name="b")
        await act(a, "greet", name="x")
        assert await act(b, "count") == 0
        assert Greeter._state_fields.keys() == {"greeted", "names"}


async def test_registration_with_capabilities_and_health() -> None:
    async with bastion.open_runtime() as rt:
        await rt.spawn(Greeter, name="g")
        meta = rt.registry.metadata("g")
        assert meta["capabilities"] == ["greeting"]
        assert meta["health"] == "ok"
        assert meta["agent_type"] == "Greeter"
        assert "greet" in meta["actions"]
        assert [e.name for e in rt.registry.select(capabilities="greeting")] == ["g"]


async def test_capabilities_given_at_spawn_win() -> None:
    async with bastion.open_runtime() as rt:
        await rt.spawn(Greeter, name="g", metadata={"capabilities": ["special"]})
        assert rt.registry.metadata("g")["capabilities"] == ["special"]


async def test_telemetry_for_lifecycle_and_actions() -> None:
    async with bastion.open_runtime() as rt:
        names = [("bastion", "agent", x) for x in ("started", "stopped")] + [
            ("bastion", "agent", "action", x) for x in ("start", "stop", "exception")
        ]
        with capture_events(*names) as captured:
            ref = await rt.spawn(Greeter, name="g")
            await act(ref, "add", a=1)
            with pytest.raises(bastion.BusinessError):
                await act(ref, "fail", kind="business")
            await ref.stop(timeout=1.0)
        assert captured.count("bastion", "agent", "started") == 1
        assert captured.count("bastion", "agent", "action", "start") == 2
        stop = captured.named("bastion", "agent", "action", "stop")[0]
        assert stop.metadata["action"] == "add"
        assert stop.measurements["duration_ns"] >= 0
        exc = captured.named("bastion", "agent", "action", "exception")[0]
        assert exc.metadata["kind"] == "BusinessError"
        assert captured.count("bastion", "agent", "stopped") == 1


async def test_crash_is_reported_as_stopped_with_the_reason() -> None:
    async with bastion.open_runtime() as rt:
        with capture_events(("bastion", "agent", "stopped")) as captured:
            ref = await rt.spawn(Greeter, name="g")
            await crash(ref)
        assert captured.count("bastion", "agent", "stopped") == 1


def test_overriding_actor_handlers_is_refused() -> None:
    with pytest.raises(TypeError, match="override setup"):

        class Bad(Agent):
            def handle_call(self, message: Any) -> Any:
                return message

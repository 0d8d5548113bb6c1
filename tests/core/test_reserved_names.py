"""Framework members of ``Actor`` cannot be shadowed by a user's subclass or instance."""

from __future__ import annotations

from typing import Any

import pytest

import bastion
from bastion._core._actor import sets_no_reserved_member


def test_assigning_a_reserved_member_in_init_fails_at_that_line_naming_it() -> None:
    class Named(bastion.Actor):
        def __init__(self) -> None:
            self.name = "mine"

    with pytest.raises(TypeError, match=r"'name' is reserved by bastion's Actor"):
        Named()


@pytest.mark.parametrize("member", ["ref", "name", "runtime"])
def test_every_reserved_property_refuses_an_instance_assignment(member: str) -> None:
    actor = bastion.Actor()
    with pytest.raises(TypeError, match=f"'{member}' is reserved"):
        setattr(actor, member, True)


async def test_spawning_an_actor_that_assigns_self_name_reports_the_reserved_name() -> None:
    class Named(bastion.Actor):
        def __init__(self) -> None:
            self.name = "mine"

    async with bastion.open_runtime() as rt:
        with pytest.raises(bastion.StartFailed) as info:
            await rt.spawn(Named)
        assert isinstance(info.value.__cause__, TypeError)
        assert "'name' is reserved" in str(info.value.__cause__)


@pytest.mark.parametrize("member", ["name", "stop", "link", "ref"])
def test_defining_a_reserved_member_in_a_subclass_body_is_refused(member: str) -> None:
    body: dict[str, Any] = {member: "x", "__doc__": "Redefines a framework member."}
    with pytest.raises(TypeError, match=f"defines {member}: reserved by bastion"):
        type("Clash", (bastion.Actor,), body)


async def test_framework_methods_still_bind_and_work() -> None:
    class Stopper(bastion.Actor):
        def handle_call(self, message: Any) -> Any:
            self.stop()
            return self.name

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Stopper, name="stopper")
        assert await ref.call("x") == "stopper"
        assert await ref.wait_stopped(timeout=1.0) == "normal"


async def test_shadowing_a_reserved_method_on_the_instance_fails_the_spawn_naming_it() -> None:
    class Shadow(bastion.Actor):
        def __init__(self) -> None:
            self.stop = True  # type: ignore[method-assign,assignment]

    async with bastion.open_runtime() as rt:
        with pytest.raises(bastion.StartFailed) as info:
            await rt.spawn(Shadow)
        assert "'stop' is reserved by bastion's Actor" in str(info.value.__cause__)
        assert rt.statistics().actors == 0


async def test_a_framework_init_marked_as_setting_no_reserved_member_skips_the_check() -> None:
    """The mark is the framework's promise (Agent, PersistentAgent, TaskAgent): spawning a
    subclass that keeps such an ``__init__`` skips the instance check, which was most of an
    agent's spawn cost; a subclass with an ``__init__`` of its own is checked again."""

    class Framework(bastion.Actor):
        @sets_no_reserved_member
        def __init__(self) -> None:
            self.stop = True  # type: ignore[method-assign,assignment]  # (breaks the promise)

    class User(Framework):
        def __init__(self) -> None:
            super().__init__()

    async with bastion.open_runtime() as rt:
        await rt.spawn(Framework)  # not checked: the mark says there is nothing to check
        with pytest.raises(bastion.StartFailed) as info:
            await rt.spawn(User)
        assert "'stop' is reserved" in str(info.value.__cause__)

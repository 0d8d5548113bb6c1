"""What crosses Ray and what is refused before anything is sent (no cluster needed)."""

from __future__ import annotations

import pytest

import bastion
from bastion.persistence import SQLiteStore
from bastion.ray import (
    PlacementError,
    RayProxy,
    RemoteExpectedError,
    StoreRecipe,
    WireError,
    ray_placement,
)
from bastion.ray._wire import decode_failure, encode_failure, expected_error
from tests.ray._agents import MESSAGES, Get, Table

PLACEMENT = ray_placement(num_cpus=1, messages=MESSAGES)


def _local_class() -> type[bastion.Actor]:
    class Local(bastion.Actor):
        pass

    return Local


async def test_a_class_the_workers_cannot_import_is_refused_at_spawn(
    rt: bastion.Runtime,
) -> None:
    with pytest.raises(TypeError, match="importable by name on the Ray workers"):
        await rt.spawn(_local_class(), placement=PLACEMENT)
    with pytest.raises(WireError, match="cannot cross Ray"):
        await rt.spawn(Table, {"a": object()}, placement=PLACEMENT)  # an argument that won't
    assert rt.statistics().actors == 0


async def test_placing_without_ray_initialized_fails_the_start(rt: bastion.Runtime) -> None:
    import ray

    assert not ray.is_initialized()
    with pytest.raises(bastion.StartFailed) as failed:
        await rt.spawn(Table, {"a": 1}, placement=PLACEMENT)
    assert isinstance(failed.value.__cause__, PlacementError)
    assert "ray.init" in str(failed.value.__cause__)


def test_place_gives_the_stand_in_and_the_encoded_arguments() -> None:
    stand_in, args, kwargs = PLACEMENT.place(Table, ({"a": 1},), {})
    assert stand_in is RayProxy
    assert args[:2] == (PLACEMENT, "tests.ray._agents:Table")
    assert PLACEMENT.codec.decode(args[2]) == [[{"a": 1}], {}]
    assert kwargs == {}
    assert PLACEMENT.codec.decode(PLACEMENT.codec.encode(Get("k"))) == Get("k")


def test_bad_placement_options_are_refused() -> None:
    with pytest.raises(ValueError, match="start_timeout"):
        ray_placement(start_timeout=0)
    with pytest.raises(ValueError, match="num_cpus"):
        ray_placement(num_cpus=-1)
    with pytest.raises(ValueError, match="resources"):
        ray_placement(resources={"GPU": float("inf")})
    with pytest.raises(TypeError, match="importable"):
        ray_placement(messages=(_local_class(),))
    with pytest.raises(TypeError, match="StoreRecipe"):
        ray_placement(store="state.db")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="importable"):
        StoreRecipe(lambda: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="keyword name"):
        StoreRecipe(SQLiteStore.open, argument="not a name")


def test_an_expected_error_crosses_as_itself() -> None:
    sent = bastion.BusinessError("no funds", code="funds", context={"account": 7})
    got = expected_error(decode_failure(encode_failure("expected", sent)[1:]))
    assert type(got) is bastion.BusinessError
    assert (got.message, got.code, got.context) == ("no funds", "funds", {"account": "7"})
    assert got.severity == sent.severity


def test_an_expected_error_of_a_class_not_loaded_here_is_a_remote_expected_error() -> None:
    failure = decode_failure(encode_failure("expected", bastion.ValidationError("bad"))[1:])
    unknown = type(failure)(**{**_fields(failure), "type": "not_loaded_anywhere:Refusal"})
    got = expected_error(unknown)
    assert isinstance(got, RemoteExpectedError)
    assert isinstance(got, bastion.ExpectedError)
    assert got.context["remote_type"] == "not_loaded_anywhere:Refusal"


def test_undecodable_bytes_from_ray_are_a_wire_error() -> None:
    with pytest.raises(WireError, match="undecodable"):
        decode_failure(b"{not json")


def _fields(failure: object) -> dict[str, object]:
    return {name: getattr(failure, name) for name in failure.__struct_fields__}  # type: ignore[attr-defined]

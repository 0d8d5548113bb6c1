"""The codec: every supported type round-trips, typed and untyped; bad data is typed."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import uuid
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.persistence import Codec, CorruptState, UnstorableValue, UnsupportedType


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Task(msgspec.Struct, frozen=True):
    id: str
    tags: frozenset[str] = frozenset()


class Money:
    def __init__(self, cents: int, currency: str) -> None:
        self.cents, self.currency = cents, currency

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and (self.cents, self.currency) == (
            other.cents,
            other.currency,
        )

    def __hash__(self) -> int:
        return hash((self.cents, self.currency))


def _codec() -> Codec:
    codec = Codec()
    codec.register(
        Money,
        encode=lambda m: [m.cents, m.currency],
        decode=lambda v: Money(v[0], v[1]),
        name="money",
    )
    codec.register_struct(Point, name="point")
    codec.register_struct(Task, name="task")
    return codec


SAMPLES: list[Any] = [
    collections.deque([1, 2, 3], maxlen=5),
    {1, 2},
    frozenset({"a"}),
    (1, "two", (3.0,)),
    dt.datetime(2025, 7, 1, 12, 30, tzinfo=dt.UTC),
    dt.date(2025, 7, 1),
    dt.timedelta(seconds=90),
    decimal.Decimal("12.3400"),
    uuid.UUID(int=7),
    b"\x00\xff",
    Point(1, 2),
    Task("t1", frozenset({"x"})),
    Money(250, "EUR"),
    {"nested": [collections.deque([(1, 2)]), {"$t": "not a tag"}], 3: "int key"},
    None,
]


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_untyped_values_round_trip_with_their_types(value: Any) -> None:
    codec = _codec()
    back = codec.decode(codec.encode(value))
    assert back == value
    assert type(back) is type(value)
    if isinstance(value, collections.deque):
        assert back.maxlen == value.maxlen


TYPED: list[tuple[Any, Any]] = [
    (collections.deque([1, 2]), collections.deque[int]),
    ({"a": {1, 2}}, dict[str, set[int]]),
    ((1, "x"), tuple[int, str]),
    (frozenset({uuid.UUID(int=1)}), frozenset[uuid.UUID]),
    (dt.datetime(2025, 1, 1, tzinfo=dt.UTC), dt.datetime),
    (decimal.Decimal("1.5"), decimal.Decimal),
    (Point(3, 4), Point),
    (Task("t", frozenset({"a"})), Task),
    ([Money(1, "USD")], list[Money]),
]


@pytest.mark.parametrize(("value", "type_"), TYPED, ids=lambda v: repr(v)[:30])
def test_typed_values_round_trip(value: Any, type_: Any) -> None:
    codec = _codec()
    assert codec.decode(codec.encode(value, type_), type_) == value


def test_unregistered_classes_are_refused_at_encode_time() -> None:
    class Opaque:
        pass

    codec = Codec()
    with pytest.raises(UnsupportedType, match="register"):
        codec.encode({"x": Opaque()})
    with pytest.raises(UnsupportedType):
        codec.encode(Opaque(), Opaque)
    with pytest.raises(TypeError):  # UnsupportedType is also a TypeError
        codec.encode(Point(1, 2))


@pytest.mark.parametrize(
    "data",
    [
        b"{not json",
        b"\xff\xfe",
        b'{"$t": "nosuchtag", "v": 1}',
        b'{"$t": "decimal", "v": "abc"}',
        b'{"$t": "tuple"}',
    ],
)
def test_corrupt_bytes_raise_corrupt_state(data: bytes) -> None:
    with pytest.raises(CorruptState):
        _codec().decode(data)


def test_typed_decode_of_the_wrong_shape_is_corrupt_state() -> None:
    with pytest.raises(CorruptState, match="undecodable"):
        _codec().decode(b'{"x": "one"}', Point)


def test_a_name_cannot_be_registered_twice_for_different_classes() -> None:
    codec = _codec()
    with pytest.raises(ValueError, match="registered"):
        codec.register(dict, encode=dict, decode=dict, name="money")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(max_size=5)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.frozensets(st.integers(), max_size=3)
        | st.dictionaries(st.text(max_size=3) | st.integers(), children, max_size=3)
    ),
    max_leaves=12,
)


@given(json_values)
def test_any_nesting_of_supported_values_round_trips(value: Any) -> None:
    codec = Codec()
    assert codec.decode(codec.encode(value)) == value


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize(
    ("wrap", "type_", "path"),
    [
        (lambda n: n, float, "$"),
        (lambda n: n, float | None, "$"),
        (lambda n: [1.0, n], list[float], "$[1]"),
        (lambda n: {"a": {"b": n}}, Any, "$.a.b"),
        (lambda n: (n,), Any, "$.v[0]"),
        (lambda n: n, object, "$"),
    ],
)
def test_nan_and_infinity_are_refused_at_encode_time(
    number: float, wrap: Any, type_: Any, path: str
) -> None:
    # JSON has neither; msgspec would write null, which restores as None or not at all
    codec = Codec()
    with pytest.raises(UnstorableValue, match="cannot be stored") as refused:
        codec.encode(wrap(number), type_)
    assert isinstance(refused.value, ValueError)
    if path != "$":
        assert path in str(refused.value)


def test_none_is_still_stored() -> None:
    codec = Codec()
    assert codec.decode(codec.encode(None, float | None), float | None) is None
    assert codec.decode(codec.encode({"a": None}), Any) == {"a": None}


def test_object_is_untyped_like_any() -> None:
    codec = Codec()
    value = {"t": (1, 2), "s": {3}}
    assert codec.decode(codec.encode(value, object), object) == value

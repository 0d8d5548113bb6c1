"""Building frozen slotted dataclasses on hot paths without their generated ``__init__``.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (looked
up per field), several times slower than a plain class's. The TaskAgent builds a few of
them per task (the handler's ``Task`` view, the ``PutItem`` of its outcome, the
``TaskFinished`` notice);
:func:`builder` returns a function that fills the slots directly, giving an instance
equal to what the constructor gives. Only for slotted, frozen dataclasses without
``__post_init__``, and every field is passed: checked once, when the builder is made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["builder"]

T = TypeVar("T")


def builder(cls: type[T]) -> Callable[..., T]:
    """A function taking every field of ``cls`` positionally and returning an instance."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__qualname__} is not a frozen, slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__qualname__} has a __post_init__: use its constructor")
    setters = tuple(cls.__dict__[f.name].__set__ for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    new = object.__new__
    if len(setters) == 1:
        (s0,) = setters

        def build1(a: Any) -> T:
            obj = new(cls)
            s0(obj, a)
            return obj

        return build1
    if len(setters) == 3:
        s0, s1, s2 = setters

        def build3(a: Any, b: Any, c: Any) -> T:
            obj = new(cls)
            s0(obj, a)
            s1(obj, b)
            s2(obj, c)
            return obj

        return build3
    if len(setters) == 4:
        s0, s1, s2, s3 = setters

        def build4(a: Any, b: Any, c: Any, d: Any) -> T:
            obj = new(cls)
            s0(obj, a)
            s1(obj, b)
            s2(obj, c)
            s3(obj, d)
            return obj

        return build4
    if len(setters) == 5:
        s0, s1, s2, s3, s4 = setters

        def build5(a: Any, b: Any, c: Any, d: Any, e: Any) -> T:
            obj = new(cls)
            s0(obj, a)
            s1(obj, b)
            s2(obj, c)
            s3(obj, d)
            s4(obj, e)
            return obj

        return build5
    raise TypeError(f"{cls.__qualname__}: builders exist for 1 and 3 to 5 fields")

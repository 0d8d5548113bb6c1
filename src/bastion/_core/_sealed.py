"""Runtime-owned classes have no public constructor (trio's ``NoPublicConstructor``).

A user who writes ``bastion.ActorRef(...)`` or ``bastion.Runtime()`` gets a
``TypeError`` that says where such objects come from; the kernel builds them with
``Cls._create(...)``. The check lives in the metaclass, so instances cost nothing
extra once built and attribute access is untouched.
"""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

__all__ = ["NoPublicConstructor"]

_T = TypeVar("_T")


class NoPublicConstructor(type):
    """Metaclass: calling the class raises ``TypeError``; the kernel uses ``_create``.

    A class may set ``_obtained_from`` (a short phrase) to say how users get instances.
    """

    def __call__(cls, *args: object, **kwargs: object) -> NoReturn:
        source = getattr(cls, "_obtained_from", None)
        hint = f"; {source}" if source else ""
        raise TypeError(f"{cls.__module__}.{cls.__qualname__} has no public constructor{hint}")

    def _create(cls: type[_T], *args: Any, **kwargs: Any) -> _T:
        """Build an instance (kernel use only)."""
        return type.__call__(cls, *args, **kwargs)  # type: ignore[no-any-return]

"""Error boundaries: catch only listed exception types and re-raise them classified.

A boundary is a reusable, stateless object usable as a context manager or a decorator
(sync or ``async def``). Exceptions it does not list propagate unchanged: there is no
catch-all, and a boundary refuses to list ``Exception`` or ``BaseException``.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import socket
import ssl
import sys
import urllib.error
from collections.abc import Awaitable, Callable
from http.client import HTTPException
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from bastion._core._errors import BastionError, ExpectedError, InfrastructureError
from bastion.resilience._classify import describe, normalize
from bastion.resilience._errors import JSONError

__all__ = [
    "Boundary",
    "boundary",
    "database_boundary",
    "json_boundary",
    "network_boundary",
    "protect_critical_path",
    "protect_critical_path_async",
]

P = ParamSpec("P")
R = TypeVar("R")
ExcTypes = tuple[type[BaseException], ...]

_log = logging.getLogger("bastion.resilience")


def _loaded(*paths: str) -> ExcTypes:
    """Exception classes ``"module:Name"`` of modules already imported (else none)."""
    found: list[type[BaseException]] = []
    for path in paths:
        module_name, _, name = path.partition(":")
        module = sys.modules.get(module_name)
        value = getattr(module, name, None) if module is not None else None
        if isinstance(value, type) and issubclass(value, BaseException):
            found.append(value)
    return tuple(found)


def _check_types(types: ExcTypes) -> ExcTypes:
    for t in types:
        if not (isinstance(t, type) and issubclass(t, BaseException)):
            raise TypeError(f"a boundary lists exception classes, got {t!r}")
        if t in (BaseException, Exception):
            raise TypeError(f"a boundary over {t.__name__} is a catch-all; list specific types")
        if not issubclass(t, Exception):
            raise TypeError(f"{t.__name__} is not an Exception; it must never be caught")
    return types


class Boundary:
    """Convert the listed exception types into classified Bastion errors.

    The converted error chains the original (``__cause__``) and carries its error
    context. With ``into``, a result that is not an ``into`` is wrapped in one::

        with boundary(KeyError, into=ValidationError):
            config["port"]
    """

    __slots__ = ("_dynamic", "_into", "_types", "name")

    def __init__(
        self,
        *types: type[BaseException],
        name: str = "boundary",
        into: type[BastionError] | None = None,
        dynamic: Callable[[], ExcTypes] | None = None,
    ) -> None:
        if not types and dynamic is None:
            raise TypeError("a boundary needs at least one exception type")
        if into is not None and not (isinstance(into, type) and issubclass(into, BastionError)):
            raise TypeError(f"into must be a BastionError subclass, got {into!r}")
        self._types = _check_types(types)
        self._dynamic = dynamic
        self._into = into
        self.name = name

    def types(self) -> ExcTypes:
        """The exception types caught now (including those of drivers imported so far)."""
        return self._types + self._dynamic() if self._dynamic is not None else self._types

    def convert(self, exc: BaseException) -> BastionError:
        """The Bastion error ``exc`` becomes when it crosses this boundary."""
        err = normalize(exc)
        into = self._into
        if into is not None and not isinstance(err, into):
            wrapped = into(err.message, code=err.code, context=err.context)
            wrapped.__cause__ = exc
            return wrapped
        return err

    def __enter__(self) -> Boundary:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or not isinstance(exc, self.types()):
            return
        err = self.convert(exc)
        if err is not exc:
            raise err from exc

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``fn`` (sync or ``async def``) to run inside this boundary."""
        if inspect.iscoroutinefunction(fn):
            afn = cast(Callable[P, Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                with self:
                    return await afn(*args, **kwargs)

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with self:
                return fn(*args, **kwargs)

        return wrapper

    def __repr__(self) -> str:
        names = ", ".join(t.__name__ for t in self.types())
        return f"<Boundary {self.name!r} over ({names})>"


def boundary(*types: type[BaseException], into: type[BastionError] | None = None) -> Boundary:
    """A boundary over exactly ``types`` (never ``Exception`` itself)."""
    return Boundary(*types, into=into)


network_boundary = Boundary(
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    socket.herror,
    ssl.SSLError,
    HTTPException,
    urllib.error.URLError,
    name="network",
    dynamic=lambda: _loaded("httpx:HTTPError"),
)
"""Network errors: stdlib sockets, DNS, TLS, ``http.client``, ``urllib``; ``httpx.HTTPError``."""

database_boundary = Boundary(
    name="database",
    dynamic=lambda: _loaded(
        "sqlite3:Error", "sqlite3:Warning", "psycopg:Error", "redis.exceptions:RedisError"
    ),
)
"""Database errors: ``sqlite3``, ``psycopg`` and ``redis`` driver exceptions."""

json_boundary = Boundary(
    json.JSONDecodeError,
    UnicodeDecodeError,
    name="json",
    into=JSONError,
    dynamic=lambda: _loaded("msgspec:DecodeError"),
)
"""Undecodable payloads (``json``, ``msgspec``, bad UTF-8) become :class:`JSONError`."""

_EXPECTED: ExcTypes = (ExpectedError, InfrastructureError)


def _fallback_value(
    fn: object, fallback: object, exc: BastionError, logger: logging.Logger | None
) -> Any:
    (logger or _log).warning(
        "critical path %s failed (%s, category=%s, code=%s); returning the fallback",
        getattr(fn, "__qualname__", repr(fn)),
        describe(exc),
        exc.category,
        exc.code,
    )
    return fallback(exc) if callable(fallback) else fallback


def protect_critical_path(
    fn: Callable[[], R],
    fallback: R | Callable[[BastionError], R],
    *,
    on: ExcTypes = _EXPECTED,
    logger: logging.Logger | None = None,
) -> R:
    """Return ``fn()``, or the fallback (logged) when ``fn`` raises an expected failure.

    Expected failures are Bastion errors of category validation, business or
    infrastructure (``on`` narrows or changes them). Anything else — bugs,
    ``UnexpectedError``, cancellation — propagates. A callable ``fallback`` is called
    with the error. Raw driver exceptions must cross a boundary first::

        protect_critical_path(network_boundary(fetch_prices), fallback=CACHED_PRICES)
    """
    if on is not _EXPECTED:
        _check_types(on)
    try:
        return fn()
    except on as exc:
        return cast(R, _fallback_value(fn, fallback, normalize(exc), logger))


async def protect_critical_path_async(
    fn: Callable[[], Awaitable[R]],
    fallback: R | Callable[[BastionError], R],
    *,
    on: ExcTypes = _EXPECTED,
    logger: logging.Logger | None = None,
) -> R:
    """:func:`protect_critical_path` for a coroutine function."""
    if on is not _EXPECTED:
        _check_types(on)
    try:
        return await fn()
    except on as exc:
        return cast(R, _fallback_value(fn, fallback, normalize(exc), logger))

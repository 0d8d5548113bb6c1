"""``@workflow`` and ``@step``: what a decorated function declares, and where it is found.

A ``@step`` function called inside a running workflow is recorded (its result stored
once per step number); called anywhere else, it simply runs. A ``@workflow`` function
is registered by name and version, so an engine can route a stored workflow to the
code of the version it started on.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, overload

from bastion._core._backoff import Backoff
from bastion._core._durations import positive_seconds
from bastion.workflows._current import current_context

__all__ = [
    "StepOptions",
    "WorkflowDefinition",
    "find_definition",
    "local_table",
    "step",
    "step_options",
    "versions_of",
    "workflow",
]

P = ParamSpec("P")
R = TypeVar("R")

#: Retry delays of a step that declares none: 1 s, 2 s, 4 s ... at most 60 s, 10 % jitter.
DEFAULT_STEP_BACKOFF = Backoff(initial=1.0, maximum=60.0, multiplier=2.0, jitter=0.1)


@dataclass(frozen=True, slots=True)
class StepOptions:
    """How a step runs: attempts, the delay between them, its deadline, what is retried.

    ``retry_on``: exception types (or a predicate) worth another attempt; by default
    :func:`bastion.resilience.is_retryable` decides (timeouts and retryable
    infrastructure errors are retried; expected errors and bugs are not).
    ``result_type``: how the result is encoded: ``Any`` (default) tags what JSON cannot
    hold, so it replays as it was; a msgspec type (a ``Struct``) encodes it as that
    type without the tagging walk (it replays as JSON builtins).
    """

    name: str
    max_attempts: int = 1
    backoff: Backoff = DEFAULT_STEP_BACKOFF
    timeout: float | None = None
    retry_on: tuple[type[BaseException], ...] | Callable[[BaseException], bool] | None = None
    result_type: Any = Any

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a step name must be a non-empty string, got {self.name!r}")
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise TypeError(f"max_attempts must be an int, got {self.max_attempts!r}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts!r}")
        if not isinstance(self.backoff, Backoff):
            raise TypeError(f"backoff must be a bastion.Backoff, got {self.backoff!r}")
        if self.timeout is not None:
            positive_seconds("step timeout", self.timeout)


_STEP_ATTR = "__bastion_step__"


def step_options(fn: Callable[..., Any]) -> StepOptions | None:
    """The options a ``@step`` function declared, or None for a plain function."""
    found: StepOptions | None = getattr(fn, _STEP_ATTR, None)
    return found


@overload
def step(fn: Callable[P, Awaitable[R]], /) -> Callable[P, Awaitable[R]]: ...
@overload
def step(
    *,
    name: str | None = None,
    max_attempts: int = 1,
    backoff: Backoff | None = None,
    timeout: float | None = None,
    retry_on: tuple[type[BaseException], ...] | Callable[[BaseException], bool] | None = None,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]: ...
def step(
    fn: Callable[P, Awaitable[R]] | None = None,
    /,
    *,
    name: str | None = None,
    max_attempts: int = 1,
    backoff: Backoff | None = None,
    timeout: float | None = None,
    retry_on: tuple[type[BaseException], ...] | Callable[[BaseException], bool] | None = None,
) -> Any:
    """Declare an async function a durable step (use bare or with options).

    Inside a running workflow, each call gets the next step number; its result is
    recorded once and returned from the record on replay. A failure that
    ``retry_on`` (default: :func:`~bastion.resilience.is_retryable`) accepts is retried
    up to ``max_attempts`` times, ``backoff.delay(n)`` seconds apart, the next attempt's
    time stored so the delay survives a restart; ``timeout`` bounds one attempt.
    """

    checked = StepOptions(
        name=name or "step",
        max_attempts=max_attempts,
        backoff=backoff if backoff is not None else DEFAULT_STEP_BACKOFF,
        timeout=timeout,
        retry_on=retry_on,
    )

    def decorate(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(
                f"@step needs an async function, got {func!r}; run sync code with ctx.step(fn)"
            )
        options = dataclasses.replace(checked, name=name or func.__qualname__)

        @functools.wraps(func)
        def recorded(*args: P.args, **kwargs: P.kwargs) -> Awaitable[R]:
            ctx = current_context()
            if ctx is None:
                return func(*args, **kwargs)
            return ctx._call_step(func, options, args, kwargs)

        setattr(recorded, _STEP_ATTR, options)
        return recorded

    return decorate if fn is None else decorate(fn)


@dataclass(eq=False)
class WorkflowDefinition:
    """A workflow function ``fn(ctx, *args, **kwargs)`` with its name and version.

    ``@workflow`` makes one and registers it for the process; one made directly and
    passed to ``open_workflows(workflows=[...])`` is known to that engine only (and
    found there first). ``timeout``: the default deadline of a run (seconds, stored).
    """

    fn: Callable[..., Awaitable[Any]]
    name: str
    version: str
    timeout: float | None = None

    def __post_init__(self) -> None:
        if not inspect.iscoroutinefunction(self.fn):
            raise TypeError(f"a workflow needs an async function, got {self.fn!r}")
        for label, value in (("name", self.name), ("version", self.version)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"a workflow {label} must be a non-empty string, got {value!r}")
        if self.timeout is not None:
            positive_seconds("workflow timeout", self.timeout)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Workflows are started by an engine, not called."""
        raise TypeError(
            f"workflow {self.name!r} is started by an engine: "
            f"await engine.start({self.fn.__name__}, ...)"
        )


_registry: dict[str, dict[str, WorkflowDefinition]] = {}


@overload
def workflow(fn: Callable[..., Awaitable[Any]], /) -> WorkflowDefinition: ...
@overload
def workflow(
    *, name: str | None = None, version: str = "1", timeout: float | None = None
) -> Callable[[Callable[..., Awaitable[Any]]], WorkflowDefinition]: ...
def workflow(
    fn: Callable[..., Awaitable[Any]] | None = None,
    /,
    *,
    name: str | None = None,
    version: str = "1",
    timeout: float | None = None,
) -> Any:
    """Declare an async function ``fn(ctx, *args)`` a durable workflow (bare or with options).

    ``name`` (default: the function's module and qualified name) and ``version`` identify
    the code: each workflow records the version it started on and is resumed only by
    code registered under that name and version. Keep the old function registered
    (same ``name``, old ``version``) while workflows started on it are in flight.
    """
    if not isinstance(version, str) or not version:
        raise ValueError(f"a workflow version must be a non-empty string, got {version!r}")
    if timeout is not None:
        positive_seconds("workflow timeout", timeout)

    def decorate(func: Callable[..., Awaitable[Any]]) -> WorkflowDefinition:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"@workflow needs an async function, got {func!r}")
        if not inspect.signature(func).parameters:
            raise TypeError(f"workflow {func.__qualname__} must take the context first: fn(ctx)")
        definition = WorkflowDefinition(
            func, name or f"{func.__module__}.{func.__qualname__}", version, timeout
        )
        _register(definition)
        functools.update_wrapper(definition, func)
        return definition

    return decorate if fn is None else decorate(fn)


def _register(definition: WorkflowDefinition) -> None:
    versions = _registry.setdefault(definition.name, {})  # noqa: BAS303 -- code is registered per process, by design
    known = versions.get(definition.version)
    if known is not None and _origin(known.fn) != _origin(definition.fn):
        raise ValueError(
            f"workflow {definition.name!r} version {definition.version!r} is already "
            f"defined by {_origin(known.fn)}; give this one another name or version"
        )
    versions.pop(definition.version, None)  # (a redefinition: it becomes the newest)
    versions[definition.version] = definition


def _origin(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def local_table(extra: Collection[WorkflowDefinition]) -> dict[str, dict[str, WorkflowDefinition]]:
    """``extra`` by name and version (an engine's own definitions, ahead of the registry)."""
    table: dict[str, dict[str, WorkflowDefinition]] = {}
    for d in extra:
        if not isinstance(d, WorkflowDefinition):
            raise TypeError(f"expected a @workflow function or a WorkflowDefinition, got {d!r}")
        table.setdefault(d.name, {})[d.version] = d
    return table


def find_definition(
    name: str, version: str | None, local: dict[str, dict[str, WorkflowDefinition]] | None = None
) -> WorkflowDefinition | None:
    """The definition of ``name`` at ``version`` (None: the newest), or None.

    ``local`` (an engine's own definitions) is searched before the process registry.
    """
    for table in (local or {}, _registry):
        versions = table.get(name)
        if not versions:
            continue
        if version is None:
            return next(reversed(versions.values()))
        found = versions.get(version)
        if found is not None:
            return found
    return None


def versions_of(
    name: str, local: dict[str, dict[str, WorkflowDefinition]] | None = None
) -> list[str]:
    """The versions of workflow ``name`` known here (``local`` ones first)."""
    known = list((local or {}).get(name, {}))
    return known + [v for v in _registry.get(name, {}) if v not in known]

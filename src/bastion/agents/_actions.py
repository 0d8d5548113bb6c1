"""Named actions with validated parameters.

An action is an agent method marked with :func:`action`. Its parameters are either one
msgspec ``Struct`` argument, or plain typed keyword parameters (a Struct is built from
the signature). Callers send ``Act(name, params)``, or the Struct itself; parameters are
converted and validated with msgspec before the method runs, and a bad parameter is a
:class:`bastion.ValidationError` returned to the caller while the agent keeps serving.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

import msgspec

from bastion._core._errors import ValidationError
from bastion._core._ref import DEFAULT, ActorRef, UseDefault
from bastion.agents._errors import UnknownAction

__all__ = ["Act", "ActionSpec", "act", "action", "collect_actions"]

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")
_MARK = "__bastion_action__"


@dataclass(frozen=True, slots=True)
class Act:
    """The message that invokes an action: ``Act("queue", {"type": "fetch"})``."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@overload
def action(fn: F, /) -> F: ...


@overload
def action(*, name: str | None = None) -> Callable[[F], F]: ...


def action(fn: F | None = None, /, *, name: str | None = None) -> Any:
    """Mark an agent method as a named action (``@action`` or ``@action(name="x")``)."""

    def mark(f: F) -> F:
        setattr(f, _MARK, name or f.__name__)
        return f

    return mark(fn) if fn is not None else mark


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """A resolved action: its name, method and parameter Struct type."""

    name: str
    method: Callable[..., Any]
    params_type: type[msgspec.Struct]
    spread: bool  # True: call method(self, **fields); False: method(self, struct)

    def validate(
        self,
        params: Mapping[str, Any] | msgspec.Struct,
        agent: str,
        dec_hook: Callable[[type, Any], Any] | None = None,
    ) -> msgspec.Struct:
        """Convert raw parameters to the Struct; ValidationError with msgspec's reason."""
        if isinstance(params, self.params_type):
            return params
        if not isinstance(params, Mapping):
            raise ValidationError(
                f"{agent}.{self.name}: parameters must be a mapping, got {type(params).__name__}",
                code="invalid_params",
                context={"action": self.name},
            )
        try:
            return msgspec.convert(dict(params), self.params_type, dec_hook=dec_hook, str_keys=True)
        except msgspec.ValidationError as exc:
            raise ValidationError(
                f"{agent}.{self.name}: {exc}", code="invalid_params", context={"action": self.name}
            ) from None

    def invoke(self, agent: Any, params: msgspec.Struct) -> Any:
        """Call the method with validated parameters."""
        if self.spread:
            return self.method(agent, **{f: getattr(params, f) for f in params.__struct_fields__})
        return self.method(agent, params)


def collect_actions(cls: type[Any]) -> dict[str, ActionSpec]:
    """Every ``@action`` method of ``cls`` and its bases, by action name."""
    specs: dict[str, ActionSpec] = {}
    by_method: dict[str, str] = {}  # method name -> action name
    for klass in reversed(cls.__mro__):
        for attr, value in klass.__dict__.items():
            name = getattr(value, _MARK, None)
            if name is not None:
                specs[name] = _spec(cls, name, value)
                by_method[attr] = name
            elif attr in by_method:
                del specs[by_method.pop(attr)]  # overridden without @action: not an action
    return specs


def _spec(cls: type[Any], name: str, method: Callable[..., Any]) -> ActionSpec:
    hints = typing.get_type_hints(method)
    params = list(inspect.signature(method).parameters.values())[1:]
    if len(params) == 1 and _is_struct(hints.get(params[0].name)):
        return ActionSpec(name, method, hints[params[0].name], spread=False)
    fields: list[Any] = []
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"{cls.__qualname__}.{method.__name__}: actions take named parameters")
        ann = hints.get(p.name, Any)
        fields.append((p.name, ann) if p.default is p.empty else (p.name, ann, p.default))
    struct = msgspec.defstruct(
        f"{cls.__name__}.{name}", fields, kw_only=True, forbid_unknown_fields=True
    )
    return ActionSpec(name, method, struct, spread=True)


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def unknown_action(agent: str, name: object, known: Mapping[str, ActionSpec]) -> UnknownAction:
    """The error for an action name the agent does not have."""
    return UnknownAction(
        f"{agent} has no action {name!r}; it has {sorted(known)}", context={"action": name}
    )


@overload
async def act(
    ref: ActorRef,
    name: str,
    /,
    *,
    returns: type[R],
    call_timeout: float | UseDefault = DEFAULT,
    **params: Any,
) -> R: ...


@overload
async def act(
    ref: ActorRef, name: str, /, *, call_timeout: float | UseDefault = DEFAULT, **params: Any
) -> Any: ...


async def act(
    ref: ActorRef,
    name: str,
    /,
    *,
    returns: type[Any] | None = None,
    call_timeout: float | UseDefault = DEFAULT,
    **params: Any,
) -> Any:
    """Call action ``name`` of the agent behind ``ref`` and return its result.

    ``await act(ref, "queue", type="fetch", payload={"url": u}, call_timeout=2.0)``;
    ``call_timeout`` defaults to the runtime's ``call_timeout`` (every other keyword is
    an action parameter, so an action may have its own ``timeout`` parameter).
    ``returns=WorkflowStatus`` types the result for the type checker and checks it at run
    time: a result of another type raises ``TypeError`` in the caller.
    """
    result = await ref.call(Act(name, params), timeout=call_timeout)
    if returns is not None and not isinstance(result, returns):
        raise TypeError(
            f"action {name!r} returned {type(result).__name__}, expected {returns.__name__}"
        )
    return result

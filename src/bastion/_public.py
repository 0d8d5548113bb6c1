"""Make public classes and functions report the public module they are exported from.

Implementation lives in ``_``-prefixed modules; users meet the objects as
``bastion.ActorRef`` or ``bastion.resilience.Retry``. Each public ``__init__`` calls
:func:`publish` so reprs, tracebacks, docs and pickles name the public path (httpx and
trio do the same).

Changing ``__module__`` also changes where ``typing.get_type_hints`` (and msgspec, which
resolves a Struct's fields the same way) evaluates string annotations. So before a class
moves, its own annotations are evaluated where they were written; names that exist only
for the type checker stay strings, as they would fail to resolve anyway.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["publish"]


def _is_private(module: str) -> bool:
    return module.startswith("bastion.") and any(p.startswith("_") for p in module.split("."))


def _freeze_annotations(cls: type) -> None:
    own = inspect.get_annotations(cls)
    if not any(isinstance(a, str) for a in own.values()):
        return
    home = vars(sys.modules[cls.__module__])
    frozen: dict[str, Any] = {}
    for name, annotation in own.items():
        is_text = isinstance(annotation, str)
        frozen[name] = _evaluate(annotation, home, cls) if is_text else annotation
    type.__setattr__(cls, "__annotations__", frozen)


def _evaluate(annotation: str, home: Mapping[str, Any], cls: type) -> Any:
    """Evaluate one of our own string annotations where it was written, as typing would."""
    try:
        return eval(annotation, dict(home), dict(vars(cls)))
    except NameError:
        return annotation  # a name imported only for the type checker: unresolvable anyway


def publish(namespace: Mapping[str, Any], module: str) -> None:
    """Set ``__module__`` of every class and function in ``namespace["__all__"]``.

    Only objects defined in a private Bastion module are moved; the first public
    namespace that exports an object becomes its home.
    """
    for name in namespace["__all__"]:
        obj = namespace[name]
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if not _is_private(obj.__module__):
            continue
        if inspect.isclass(obj):
            _freeze_annotations(obj)
        obj.__module__ = module

"""What crosses Ray: msgspec JSON bytes, never pickle.

Ray serializes the arguments and results of actor methods itself; Bastion hands it
``bytes`` (and a float timeout) only, so what Bastion sends is JSON it wrote with
msgspec and reads back with :class:`~bastion.persistence.Codec`. Classes travel by name
(``module:QualName``) and are imported on the worker; exceptions travel as
:class:`Failure` records, never as objects.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Iterable
from typing import Any

import msgspec

from bastion._core._errors import BastionError, ExpectedError, Severity
from bastion.agents import Act
from bastion.persistence import Codec, CorruptState, UnstorableValue, UnsupportedType
from bastion.ray._errors import RemoteExpectedError, WireError

__all__ = [
    "OK",
    "Failure",
    "StartSpec",
    "Started",
    "build_codec",
    "decode_failure",
    "decode_value",
    "encode_failure",
    "encode_value",
    "expected_error",
    "import_name",
    "qualified_name",
]

#: First byte of a reply: a value follows (codec JSON), or a :class:`Failure` (JSON).
OK = b"o"
FAILED = b"f"


class StartSpec(msgspec.Struct, frozen=True):
    """What a host needs to start the placed actor."""

    actor: str
    messages: list[str]
    payload: bytes  # codec JSON of [args, kwargs]
    name: str | None
    store_opener: str | None
    store_kwargs: bytes  # codec JSON of a dict
    store_argument: str
    call_timeout: float
    start_timeout: float


class Started(msgspec.Struct, frozen=True):
    """Where the placed actor runs."""

    node_id: str
    pid: int
    actor_id: str


class Failure(msgspec.Struct, frozen=True):
    """An exception as data: its kind (how the caller sees it), class name and text."""

    kind: str  # expected | crash | timeout | not_alive | mailbox_full | wire | exit | start
    type: str
    message: str
    code: str = ""
    severity: str = ""
    retryable: bool = False
    context: dict[str, str] = {}
    traceback: str = ""


def qualified_name(obj: Any) -> str:
    """``module:QualName`` of a class or function the workers can import; TypeError if none."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname or "<locals>" in qualname or module == "__main__":
        raise TypeError(
            f"{obj!r} must be importable by name on the Ray workers: define it at module "
            "level in an installed module (not in __main__ or inside a function)"
        )
    name = f"{module}:{qualname}"
    if import_name(name) != obj:
        raise TypeError(f"{obj!r} is not what {name!r} imports; it cannot be found by name")
    return name


def import_name(name: str) -> Any:
    """Import ``module:QualName`` (on a worker: the placed class, messages, store opener)."""
    module, _, qualname = name.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _loaded_name(name: str) -> Any:
    """``module:QualName`` if its module is loaded already, else None (imports nothing)."""
    module, _, qualname = name.partition(":")
    obj: Any = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj


def build_codec(message_types: Iterable[type[Any]]) -> Codec:
    """A codec that knows the declared message classes (dataclasses, msgspec Structs).

    :class:`bastion.agents.Act` (how ``act(ref, ...)`` calls an agent) is always known.
    """
    codec = Codec()
    classes: tuple[type[Any], ...] = (Act, *message_types)
    for cls in classes:
        codec.register_struct(cls, name=qualified_name(cls))
    return codec


def encode_value(codec: Codec, value: Any) -> bytes:
    """``value`` as codec JSON; :class:`WireError` if it cannot cross."""
    try:
        return codec.encode(value)
    except (UnsupportedType, UnstorableValue) as exc:
        raise WireError(f"{type(value).__qualname__} cannot cross Ray: {exc}") from exc


def decode_value(codec: Codec, data: bytes) -> Any:
    """Invert :func:`encode_value`; :class:`WireError` if the bytes do not decode."""
    try:
        return codec.decode(data)
    except CorruptState as exc:
        raise WireError(f"undecodable bytes from Ray: {exc}") from exc


def encode_failure(kind: str, exc: BaseException | str) -> bytes:
    """A reply saying ``exc`` happened (kind: how the caller is to see it)."""
    if isinstance(exc, str):
        failure = Failure(kind=kind, type="builtins:str", message=exc)
    else:
        cls = type(exc)
        fields: dict[str, Any] = {}
        if isinstance(exc, BastionError):
            fields = {
                "code": exc.code,
                "severity": str(exc.severity),
                "retryable": exc.retryable,
                "context": {str(k): repr(v) for k, v in exc.context.items()},
            }
        failure = Failure(
            kind=kind,
            type=f"{cls.__module__}:{cls.__qualname__}",
            message=str(exc),
            traceback="".join(traceback.format_exception(exc)),
            **fields,
        )
    return FAILED + msgspec.json.encode(failure)


def decode_failure(data: bytes) -> Failure:
    """Read a :class:`Failure` reply (without its first byte)."""
    try:
        return msgspec.json.decode(data, type=Failure)
    except msgspec.DecodeError as exc:
        raise WireError(f"undecodable failure from Ray: {exc}") from exc


def expected_error(failure: Failure) -> ExpectedError:
    """The expected error a :class:`Failure` describes: its own class if loaded here."""
    cls = _loaded_name(failure.type)
    if not (isinstance(cls, type) and issubclass(cls, ExpectedError)):
        context = {**failure.context, "remote_type": failure.type}
        return RemoteExpectedError(failure.message, code=failure.code or None, context=context)
    err = cls.__new__(cls)
    Exception.__init__(err, failure.message)
    err.message = failure.message
    err.code = failure.code or cls.default_code
    err.severity = Severity(failure.severity) if failure.severity else cls.default_severity
    err.retryable = failure.retryable
    err.context = dict(failure.context)
    return err

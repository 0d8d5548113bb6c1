"""The ``Actor`` base class: handlers and the framework attributes an actor sees.

The framework's members (``ref``, ``name``, ``runtime``, ``stop``, ``link``, ...) share
the namespace of a user's subclass, as in OTP-style libraries without pykka's
``actor_*`` prefixes. A collision is refused, never silently accepted, and never at a
cost on the message path:

* defining a reserved name in a subclass body is a ``TypeError`` when the class is
  defined (``__init_subclass__``);
* assigning a reserved property (``self.name = "x"`` in ``__init__``) is a ``TypeError``
  at that line: the property's setter refuses;
* shadowing a reserved method on the instance (``self.stop = True``) fails the spawn
  with a ``TypeError`` naming it: :func:`check_instance` runs once per incarnation,
  right after ``__init__``.

Reads and calls cost what they cost before (a property or a plain method).
"""

from __future__ import annotations

import itertools
import operator
import types
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from bastion._core._messages import ExitReason, MonitorRef

if TYPE_CHECKING:
    from bastion._core._cell import Cell
    from bastion._core._ref import ActorRef
    from bastion._core._replies import ReplyHandle
    from bastion._core._runtime import Runtime
    from bastion._core._timers import Timer

__all__ = [
    "NO_RESERVED_MEMBER",
    "Actor",
    "check_instance",
    "refuse_reserved",
    "reserved_names",
    "sets_no_reserved_member",
    "shadow_checks",
]

_MEMBERS = "_bastion_reserved"
_STATE = "_bastion_reserved_state"


def reserved_names(cls: type, *, state: bool = True) -> frozenset[str]:
    """Names the framework classes in ``cls``'s MRO reserve.

    Members (``_bastion_reserved``) always; with ``state``, also instance attributes a
    framework class sets itself (``_bastion_reserved_state``, e.g. a TaskAgent's queue).
    """
    kinds = (_MEMBERS, _STATE) if state else (_MEMBERS,)
    names: frozenset[str] = frozenset()
    for klass in cls.__mro__:
        for kind in kinds:
            names |= klass.__dict__.get(kind, frozenset())
    return names


def refuse_reserved(obj: object, name: str) -> NoReturn:
    """Raise the ``TypeError`` for assigning the reserved member ``name`` on ``obj``."""
    owner = next(
        (
            k
            for k in type(obj).__mro__
            if name in k.__dict__.get(_MEMBERS, ()) or name in k.__dict__.get(_STATE, ())
        ),
        type(obj),
    )
    raise TypeError(
        f"{type(obj).__qualname__}: {name!r} is reserved by bastion's {owner.__qualname__}; "
        f"store your value under another attribute name"
    )


def check_instance(actor: Actor) -> None:
    """Refuse an instance attribute that shadows a reserved member (once per spawn).

    It never reads ``actor.__dict__``: on CPython 3.11 that turns the instance's inline
    attribute values into a dict object for good, and every later ``self.x`` read or
    write in a handler then takes the generic, unspecialized path (≈ 500 CPU
    instructions per message for one ``self.count += 1``). The reserved methods are
    read through one ``attrgetter`` call and must still bind the class's functions
    (compared in C); an actor whose ``__init__`` is ``object``'s or a framework one marked
    by :func:`sets_no_reserved_member` set nothing to check.
    """
    init = type(actor).__init__
    if init is object.__init__ or getattr(init, NO_RESERVED_MEMBER, False):
        return
    read, functions, others = actor._bastion_shadow_checks
    if read is not None and tuple(map(getattr, read(actor), _FUNC, _NONE)) != functions:
        names = sorted(actor._bastion_members)
        refuse_reserved(actor, next(n for n in names if _shadowed(actor, n)))
    for name, expected in others:
        if getattr(actor, name, _MISSING) is not expected:
            refuse_reserved(actor, name)


#: The attribute :func:`sets_no_reserved_member` sets on an ``__init__`` (read at spawn).
NO_RESERVED_MEMBER = "_bastion_sets_no_reserved_member"


def sets_no_reserved_member(init: Callable[..., None]) -> Callable[..., None]:
    """Mark a framework class's ``__init__`` that assigns no reserved member and calls no
    user code: spawning a subclass that keeps it skips :func:`check_instance` (most of an
    agent's spawn cost). A subclass with its own ``__init__`` is checked as before."""
    setattr(init, NO_RESERVED_MEMBER, True)
    return init


_MISSING = object()
_FUNC = itertools.repeat("__func__")
_NONE = itertools.repeat(None)
ShadowChecks = tuple[
    "Callable[[object], tuple[Any, ...]] | None", tuple[object, ...], tuple[tuple[str, object], ...]
]


def _static(cls: type, name: str) -> object:
    return next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), _MISSING)


def _shadowed(actor: Actor, name: str) -> bool:
    static = _static(type(actor), name)
    value = getattr(actor, name, _MISSING)
    if hasattr(type(static), "__set__") or value is static:
        return False
    if isinstance(static, classmethod):
        static = static.__func__
    return getattr(value, "__func__", None) is not static


def shadow_checks(cls: type[Actor]) -> ShadowChecks:
    """What :func:`check_instance` reads for ``cls``: a getter of the reserved methods,
    the functions they must bind, and (name, value) for other reserved attributes.
    Properties are left out: their setters refuse assignment themselves."""
    names: list[str] = []
    functions: list[object] = []
    others: list[tuple[str, object]] = []
    for name in sorted(cls._bastion_members):
        static = _static(cls, name)
        if hasattr(type(static), "__set__"):
            continue
        if isinstance(static, types.FunctionType | classmethod):
            names.append(name)
            functions.append(static.__func__ if isinstance(static, classmethod) else static)
        else:
            others.append((name, static.__func__ if isinstance(static, staticmethod) else static))
    getter = operator.attrgetter(*names, names[0]) if names else None  # always a tuple
    return getter, (*functions, *functions[:1]), tuple(others)


class Actor:
    """Base class of every actor.

    Subclasses override any of the handlers below; each may be a plain or an ``async``
    method. The runtime constructs the actor (``__init__``), then runs ``on_start`` in
    the actor's own task; ``spawn`` returns only after ``on_start`` succeeded.

    Failure routing (the one place it happens is the actor loop): a handler that raises
    :class:`bastion.ExpectedError` returns it to the caller and the actor keeps running;
    any other exception crashes the actor, callers get :class:`bastion.ActorCrashed`
    with the exception as ``__cause__``, and its supervisor decides what happens next.
    """

    # No ``__slots__`` here: on CPython 3.13 any slot in a class's bases turns off the
    # inline attribute values of its instances (every actor would keep a dict object and
    # lose the fast attribute path in its handlers). Agents add slots of their own (see
    # ``Agent``) and accept that on 3.13.

    #: When true, exits of linked actors arrive as :class:`bastion.Exit` in
    #: ``handle_info`` instead of stopping this actor.
    trap_exits: ClassVar[bool] = False

    _bastion_cell: Cell
    #: Members of this class a subclass or an instance may not redefine.
    _bastion_reserved: ClassVar[frozenset[str]] = frozenset({
        "ref", "name", "runtime", "send_after", "send_interval", "monitor", "demonitor",
        "link", "unlink", "stop", "reply_handle", "continue_with",
    })  # fmt: skip

    #: Every reserved member along the MRO, computed once per class.
    _bastion_members: ClassVar[frozenset[str]] = _bastion_reserved
    #: What :func:`check_instance` reads, computed once per class.
    _bastion_shadow_checks: ClassVar[ShadowChecks] = (None, (), ())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._bastion_members = reserved_names(cls, state=False)
        cls._bastion_shadow_checks = shadow_checks(cls)
        if cls.__dict__.get("_bastion_framework", False):
            return
        clash = sorted(reserved_names(cls) & cls.__dict__.keys())
        if clash:
            raise TypeError(
                f"{cls.__qualname__} defines {', '.join(clash)}: reserved by bastion "
                f"(framework members of {cls.__mro__[1].__qualname__} and its bases); "
                "choose other names"
            )

    # -- handlers ------------------------------------------------------------------
    def on_start(self) -> Awaitable[None] | None:
        """Called once in the actor's task before any message; raising fails the spawn."""
        return None

    def on_stop(self, reason: ExitReason) -> Awaitable[None] | None:
        """Called when the actor stops for any reason except a failed start."""
        return None

    def handle_call(self, message: Any) -> Any:
        """Answer a ``call``; the return value is the reply.

        To answer later, take :meth:`reply_handle` and return :data:`bastion.NoReply`.
        """
        raise NotImplementedError(f"{type(self).__name__} does not handle calls")

    def handle_cast(self, message: Any) -> Awaitable[None] | None:
        """Handle a ``cast`` (no reply)."""
        raise NotImplementedError(f"{type(self).__name__} does not handle casts")

    def handle_info(self, message: Any) -> Awaitable[None] | None:
        """Handle timer messages, ``Down`` and ``Exit`` notices. Ignores them by default."""
        return None

    def handle_continue(self, message: Any) -> Awaitable[None] | None:
        """Run work requested with :meth:`continue_with`, before the next message.

        Failure routing is that of ``handle_cast``: an exception crashes the actor.
        """
        raise NotImplementedError(f"{type(self).__name__} does not handle continuations")

    def actor_stop_timeout(self) -> float | None:
        """Seconds ``on_stop`` may take; ``None`` means the runtime's ``call_timeout``."""
        return None

    # -- framework attributes --------------------------------------------------------
    @property
    def ref(self) -> ActorRef:
        """This incarnation's reference."""
        return self._bastion_cell.ref

    @ref.setter
    def ref(self, value: object) -> NoReturn:
        refuse_reserved(self, "ref")

    @property
    def name(self) -> str | None:
        """The registered name, if any."""
        return self._bastion_cell.name

    @name.setter
    def name(self, value: object) -> NoReturn:
        refuse_reserved(self, "name")

    @property
    def runtime(self) -> Runtime:
        """The runtime this actor runs in."""
        return self._bastion_cell.runtime

    @runtime.setter
    def runtime(self, value: object) -> NoReturn:
        refuse_reserved(self, "runtime")

    def send_after(self, delay: float, message: Any) -> Timer:
        """Deliver ``message`` to ``handle_info`` after ``delay`` seconds (runtime clock)."""
        return self._bastion_cell.start_timer(delay, message, periodic=False)

    def send_interval(self, period: float, message: Any) -> Timer:
        """Deliver ``message`` to ``handle_info`` every ``period`` seconds until cancelled."""
        return self._bastion_cell.start_timer(period, message, periodic=True)

    def reply_handle(self) -> ReplyHandle:
        """Answer the call being handled later: return ``bastion.NoReply``, then reply.

        Works once per call, inside ``handle_call``; raises :class:`ActorError` elsewhere.
        If the actor stops before answering, the caller gets ``ActorCrashed`` (after a
        crash) or ``ActorNotAlive``.
        """
        return self._bastion_cell.reply_handle()

    def continue_with(self, message: Any) -> None:
        """Run ``handle_continue(message)`` once the current handler (or ``on_start``) returns.

        It runs before any other message. One continuation may be pending at a time
        (:class:`ActorError` otherwise); ``TypeError`` if the class has no
        ``handle_continue``.
        """
        self._bastion_cell.continue_with(message)

    def monitor(self, target: ActorRef | str) -> MonitorRef:
        """Receive one ``Down`` notice when ``target`` stops (at once if it is dead).

        ``target`` may be a registered name: the current holder of the name is watched,
        and ``Down`` (reason ``"noproc"``) arrives at once if nobody holds it.
        """
        return self._bastion_cell.monitor(target)

    def demonitor(self, monitor: MonitorRef) -> bool:
        """Cancel a monitor. Returns False if it had fired or was cancelled already."""
        return self._bastion_cell.demonitor(monitor)

    def link(self, target: ActorRef) -> None:
        """Link to ``target``: an abnormal exit of either side reaches the other."""
        self._bastion_cell.link(target)

    def unlink(self, target: ActorRef) -> None:
        """Remove a link made with :meth:`link`."""
        self._bastion_cell.unlink(target)

    def stop(self, reason: ExitReason = "normal") -> None:
        """Stop this actor once the current handler returns."""
        self._bastion_cell.request_stop(reason)


Actor._bastion_shadow_checks = shadow_checks(Actor)

"""``Agent``: an actor with declared state, named actions, hooks, registry and telemetry.

::

    class Greeter(Agent):
        capabilities = ("greeting",)
        greeted: int = 0                      # declared state with its default

        @action
        async def greet(self, name: str, excited: bool = False) -> str:
            self.greeted += 1
            return f"Hello {name}{'!' if excited else '.'}"

    ref = await rt.spawn(Greeter, name="greeter")
    await act(ref, "greet", name="Ada")       # "Hello Ada."
    await act(ref, "greet", name=42)          # ValidationError; the agent keeps serving

Override the hooks (``setup``, ``teardown``, ``before_action``, ``after_action``,
``on_action_error``, ``on_signal``, ``on_info``), not the actor handlers: ``Agent`` owns
``on_start``/``on_stop``/``handle_*`` and a subclass that overrides them is refused.

Framework members are reserved (see :mod:`bastion._core._actor`): the actor's, the
agent's (``signals``, ``clock``, ``publish``, ``set_health``, ``state``, ``actions``)
and the declared state of a built-in agent (a ``TaskAgent``'s ``status``, ``queue``,
``metrics``, ...). Redefining one in a subclass body is a ``TypeError`` at class
definition; assigning ``signals``/``clock`` on an instance is a ``TypeError`` at that
line; shadowing a method, or assigning a built-in agent's state field in ``__init__``,
fails the spawn with a ``TypeError`` naming it (checked once per start, never per
message).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping
from typing import Any, ClassVar, NoReturn

import msgspec

from bastion._core import _event_names, _events
from bastion._core._actor import Actor, refuse_reserved, sets_no_reserved_member
from bastion._core._clock import Clock
from bastion._core._errors import NoSuchActor
from bastion._core._messages import ExitReason
from bastion.agents._actions import Act, ActionSpec, collect_actions, unknown_action
from bastion.agents._signals import Signal, SignalBus
from bastion.agents._state import _IMMUTABLE, ItemMap, StateField, declared_state

__all__ = ["Agent"]

_FRAMEWORK_METHODS = ("on_start", "on_stop", "handle_call", "handle_cast", "handle_info")


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class Agent(Actor):
    """Base class of agents. See the module docstring for an example."""

    # Framework-private attributes are slots (here, in PersistentAgent and TaskRunner):
    # an instance's ``__dict__`` then holds only declared state and public attributes,
    # below the 30 keys past which CPython 3.11 stops sharing a class's dict keys.
    # (the kernel's ``_bastion_cell`` too: plain actors keep it in their dict, see Actor)
    __slots__ = ("_bastion_cell", "_bastion_clock", "_bastion_fresh", "_bastion_signals")

    #: What this agent can do; registered as ``capabilities`` metadata in the registry.
    capabilities: ClassVar[tuple[str, ...]] = ("general_purpose",)
    #: The type recorded in the registry and telemetry (default: the class name).
    agent_type: ClassVar[str] = ""

    _bastion_framework: ClassVar[bool] = True
    _bastion_reserved: ClassVar[frozenset[str]] = frozenset(
        {"signals", "clock", "publish", "set_health", "state", "actions"}
    )
    #: Declared state of built-in agents: a subclass's ``__init__`` may not assign it.
    _framework_state: ClassVar[frozenset[str]] = frozenset()
    _bastion_reserved_state: ClassVar[frozenset[str]] = frozenset()
    _state_fields: ClassVar[dict[str, StateField]] = {}
    #: Per declared field, what ``__new__`` sets: (name, the shared default, None) when
    #: the default is immutable, else (name, None, the field's ``fresh_default``).
    _bastion_defaults: ClassVar[tuple[tuple[str, Any, Any], ...]] = ()
    _actions: ClassVar[dict[str, ActionSpec]] = {}
    _struct_actions: ClassVar[dict[type[Any], ActionSpec]] = {}

    _bastion_signals: SignalBus | None
    _bastion_clock: Clock
    _bastion_fresh: tuple[tuple[str, Any], ...]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        framework = cls.__dict__.get("_bastion_framework", False)
        if framework:
            own = declared_state(cls, Agent).keys() & _own_annotations(cls)
            cls._framework_state = cls._framework_state | own
            cls._bastion_reserved_state = frozenset(own)
        super().__init_subclass__(**kwargs)
        if not framework:
            clash = [m for m in _FRAMEWORK_METHODS if m in cls.__dict__]
            if clash:
                raise TypeError(
                    f"{cls.__qualname__} overrides {clash}: agents override setup(), teardown(), "
                    "on_signal() and on_info() instead of the actor handlers"
                )
        cls._state_fields = declared_state(cls, Agent)
        cls._bastion_defaults = tuple(_default_plan(f) for f in cls._state_fields.values())
        cls._actions = collect_actions(cls)
        cls._struct_actions = {s.params_type: s for s in cls._actions.values() if not s.spread}
        if not cls.__dict__.get("agent_type"):
            cls.agent_type = cls.__name__

    def __new__(cls, *args: Any, **kwargs: Any) -> Agent:
        self = super().__new__(cls)
        for name, shared, fresh in cls._bastion_defaults:
            setattr(self, name, shared if fresh is None else fresh())
        framework = cls._framework_state
        self._bastion_fresh = tuple((n, getattr(self, n)) for n in framework) if framework else ()
        self._bastion_signals = None
        self._bastion_clock = _UNBOUND_CLOCK
        return self

    @sets_no_reserved_member
    def __init__(self, *, signals: SignalBus | None = None, clock: Clock | None = None) -> None:
        """``signals``: the bus :meth:`publish` uses; ``clock``: default the runtime's."""
        self._bastion_signals = signals
        if clock is not None:
            self._bastion_clock = clock

    @property
    def signals(self) -> SignalBus | None:
        """The bus :meth:`publish` uses (given to ``__init__``), or None."""
        return self._bastion_signals

    @signals.setter
    def signals(self, value: object) -> NoReturn:
        refuse_reserved(self, "signals")

    @property
    def clock(self) -> Clock:
        """The agent's clock: the one given to ``__init__``, else the runtime's."""
        return self._bastion_clock

    @clock.setter
    def clock(self, value: object) -> NoReturn:
        refuse_reserved(self, "clock")

    # -- hooks (override these) ----------------------------------------------------
    async def setup(self) -> None:
        """Runs at every start, after state is ready and before any message."""

    async def teardown(self, reason: ExitReason) -> None:
        """Runs when the agent stops (``reason`` as in ``Actor.on_stop``)."""

    async def before_action(self, name: str, params: msgspec.Struct) -> None:
        """Runs before each action; raise an ExpectedError to refuse it."""

    async def after_action(self, name: str, params: msgspec.Struct, result: Any) -> None:
        """Runs after each action that returned."""

    async def on_action_error(
        self, name: str, params: msgspec.Struct, error: BaseException
    ) -> None:
        """Runs when an action raised (the error then goes on as usual)."""

    async def on_signal(self, signal: Signal) -> None:
        """A signal from a :class:`SignalBus` subscription."""

    async def on_info(self, message: Any) -> None:
        """Timer messages and ``Down``/``Exit`` notices not handled by the framework."""

    # -- helpers for subclasses ------------------------------------------------------
    def publish(self, topic: str, data: Any = None) -> int:
        """Publish a signal on the agent's bus (if it has one); returns subscribers matched."""
        if self.signals is None:
            return 0
        return self.signals.publish(topic, data, source=self.name)

    def set_health(self, health: str, **extra: Any) -> None:
        """Record ``health`` (and other metadata) for this agent in the registry."""
        if self.name is not None:
            try:
                self.runtime.registry.update_metadata(self.name, health=health, **extra)
            except NoSuchActor:
                return

    def agent_capabilities(self) -> tuple[str, ...]:
        """Capabilities to register (default: the class's ``capabilities``)."""
        return self.capabilities

    def state(self) -> dict[str, Any]:
        """The current declared state, as a dict (values are not copied)."""
        return {name: getattr(self, name) for name in self._state_fields}

    @classmethod
    def actions(cls) -> list[str]:
        """Names of this agent's actions."""
        return sorted(cls._actions)

    # -- actor handlers (owned by the framework) --------------------------------------
    async def on_start(self) -> None:
        """Prepare state, register in the registry, run ``setup``, emit ``started``.

        Once per spawn, so it skips what a class does not need: the framework-state check
        of a class without framework state, ``_prepare_state``/``setup`` coroutines a class
        does not define, and the event's metadata when no handler listens to it
        (telemetry observes; it never decides).
        """
        if self._bastion_fresh:
            self._check_framework_state()
        cell = self._bastion_cell
        if self._bastion_clock is _UNBOUND_CLOCK:
            self._bastion_clock = cell.runtime.clock
        cls = type(self)
        if cls._prepare_state is not _NO_PREPARE:
            await self._prepare_state()
        self._register()
        if cls.setup is not _NO_SETUP:
            await self.setup()
        if _event_names.AGENT_STARTED in _events._routes:
            _events.emit(_event_names.AGENT_STARTED, {"count": 1}, self._meta())

    async def on_stop(self, reason: ExitReason) -> None:
        """Run ``teardown``, then the framework's own stop work; emit ``stopped``."""
        try:
            await self.teardown(reason)
        finally:
            await self._finish_stop(reason)
            _events.emit(
                _event_names.AGENT_STOPPED, {"count": 1}, {**self._meta(), "reason": reason}
            )

    async def handle_call(self, message: Any) -> Any:
        """Run an action (``Act`` or its parameter Struct) and reply with its result."""
        return await self._run_action(message)

    async def handle_cast(self, message: Any) -> None:
        """Run an action without a reply, or deliver a ``Signal`` to ``on_signal``."""
        if isinstance(message, Signal):
            await self.on_signal(message)
        elif not await self._handle_internal(message):
            await self._run_action(message)

    async def handle_info(self, message: Any) -> None:
        """Framework messages first, then ``on_info``."""
        if not await self._handle_internal(message):
            await self.on_info(message)

    # -- framework internals (extended by PersistentAgent and the built-in agents) ----
    def _check_framework_state(self) -> None:
        """Refuse a subclass ``__init__`` that overwrote a built-in agent's state field.

        Reads the fields with ``getattr``, never ``self.__dict__``: on CPython 3.11 that
        read turns the instance's inline attribute values into a dict object for good
        (more memory per agent, and unspecialized attribute access in every handler).
        """
        for name, fresh in self._bastion_fresh:
            if getattr(self, name, None) is not fresh:
                refuse_reserved(self, name)

    async def _prepare_state(self) -> None:
        """Where PersistentAgent restores state. Plain agents start from defaults."""

    async def _finish_stop(self, reason: ExitReason) -> None:
        """Where PersistentAgent flushes state."""

    async def _after_dispatch(self, name: str, error: BaseException | None) -> None:
        """Runs after every action, with its error if it raised (PersistentAgent saves here)."""

    async def _handle_internal(self, message: Any) -> bool:
        """Handle a framework message; True if it was one."""
        return False

    def _register(self) -> None:
        name = self._bastion_cell.name
        if name is None:
            return
        registry = self._bastion_cell.runtime.registry
        current = registry.metadata(name)
        registry.update_metadata(
            name,
            agent_type=self.agent_type,
            capabilities=list(current.get("capabilities") or self.agent_capabilities()),
            actions=self.actions(),
            health="ok",
            started_at=time.time(),
        )

    def _meta(self) -> dict[str, Any]:
        return {"agent": self.name, "agent_type": self.agent_type}

    async def _run_action(self, message: Any) -> Any:
        spec, raw = self._resolve(message)
        params = spec.validate(raw, self.name or self.agent_type)
        meta = {**self._meta(), "action": spec.name}
        error: BaseException | None = None
        try:
            await self.before_action(spec.name, params)
            with _events.span(_event_names.AGENT_ACTION, meta):
                try:
                    result = await _maybe_await(spec.invoke(self, params))
                except BaseException as exc:
                    await self.on_action_error(spec.name, params, exc)
                    raise
            await self.after_action(spec.name, params, result)
            return result
        except BaseException as exc:
            error = exc
            raise
        finally:
            await self._after_dispatch(spec.name, error)

    def _resolve(self, message: Any) -> tuple[ActionSpec, Mapping[str, Any] | msgspec.Struct]:
        if isinstance(message, Act):
            spec = self._actions.get(message.name)
            if spec is None:
                raise unknown_action(self.name or self.agent_type, message.name, self._actions)
            return spec, message.params
        spec = self._struct_actions.get(type(message))
        if spec is None:
            raise unknown_action(
                self.name or self.agent_type, type(message).__name__, self._actions
            )
        return spec, message


def _own_annotations(cls: type) -> set[str]:
    return set(inspect.get_annotations(cls))


def _default_plan(field: StateField) -> tuple[str, Any, Any]:
    """What ``Agent.__new__`` sets for ``field``: its default as is when every instance
    may share it (what ``fresh_default`` returns for it anyway), else a fresh copy."""
    default = field.default
    if isinstance(default, _IMMUTABLE) and not isinstance(default, ItemMap):
        return field.name, default, None
    return field.name, None, field.fresh_default


class _LazyClock:
    """Placeholder until ``on_start`` binds the runtime clock (or one given to the agent)."""

    def now(self) -> float:
        raise RuntimeError("the agent's clock is bound in on_start")

    def call_at(self, when: float, callback: Any) -> Any:
        raise RuntimeError("the agent's clock is bound in on_start")

    async def sleep(self, delay: float) -> None:
        raise RuntimeError("the agent's clock is bound in on_start")


#: The no-op hooks ``on_start`` skips (a class that keeps them has nothing to await).
_NO_PREPARE = Agent._prepare_state
_NO_SETUP = Agent.setup
#: The clock of every agent until ``on_start`` binds it (one object for all of them).
_UNBOUND_CLOCK: Clock = _LazyClock()

"""Sleep detection and replacement advice, shared by ``sleep-in-test`` and ``--sleeps``.

This is the single implementation of "find every sleep in a test tree and say what to
use instead"; ``bastion.testing`` re-uses it through :func:`bastion.checks.find_sleeps`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from bastion.checks._context import FileContext

__all__ = ["SLEEP_FUNCTIONS", "SleepSite", "neighbours", "sleep_call", "suggest"]

SLEEP_FUNCTIONS = frozenset({"time.sleep", "asyncio.sleep", "trio.sleep", "anyio.sleep"})
_TIMER_WORDS = ("timeout", "send_after", "backoff", "restart", "interval", "ttl", "expire",
                "deadline", "window", "heartbeat", "retry", "dwell", "period")  # fmt: skip
_SEND_WORDS = (".cast(", ".cast_nowait(", ".send(", ".tell(", "emit(", ".publish(", ".signal(")
_PROBE_WORDS = ("probe", "received", "inbox", "messages")
_STATE_WORDS = (".call(", "statistics(", "get_state", ".state")


@dataclass(frozen=True, slots=True)
class SleepSite:
    """One sleep call in a test tree and what to use instead.

    ``seconds`` is the literal delay (None when it is computed); ``function`` is the
    qualified name of the sleep (``asyncio.sleep``); ``symbol`` is the enclosing test.
    """

    path: str
    line: int
    col: int
    function: str
    seconds: float | None
    in_async: bool
    symbol: str
    suggestion: str

    @property
    def is_checkpoint(self) -> bool:
        """A zero-delay async sleep: a scheduling checkpoint, not a wait."""
        return self.function != "time.sleep" and self.seconds == 0


def sleep_call(node: ast.Call, ctx: FileContext) -> tuple[str, float | None] | None:
    """``(qualified name, literal seconds or None)`` if ``node`` calls a sleep function."""
    qualname = ctx.resolve(node.func)
    if qualname not in SLEEP_FUNCTIONS:
        return None
    arg: ast.expr | None = node.args[0] if node.args else None
    for kw in node.keywords:
        if kw.arg in {"seconds", "delay", "secs"}:
            arg = kw.value
    seconds: float | None = None
    if isinstance(arg, ast.Constant) and isinstance(arg.value, int | float):
        seconds = float(arg.value)
    return qualname, seconds


def neighbours(tree: ast.AST, node: ast.AST) -> tuple[ast.stmt | None, ast.stmt | None]:
    """The statements just before and just after the statement that contains ``node``."""
    parents: dict[int, ast.AST] = {}
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            parents[id(child)] = parent
    current: ast.AST = node
    while not isinstance(current, ast.stmt) and id(current) in parents:
        current = parents[id(current)]
    owner = parents.get(id(current))
    if owner is None:
        return None, None
    for name in ("body", "orelse", "finalbody"):
        block = getattr(owner, name, None)
        if isinstance(block, list) and current in block:
            index = block.index(current)
            before = block[index - 1] if index > 0 else None
            after = block[index + 1] if index + 1 < len(block) else None
            return before, after
    return None, None


def _text(stmt: ast.stmt | None) -> str:
    return "" if stmt is None else ast.unparse(stmt)


def _condition(after: ast.stmt | None) -> str | None:
    if isinstance(after, ast.Assert):
        text = ast.unparse(after.test)
        return text if len(text) <= 70 else None
    return None


def suggest(
    function: str,
    seconds: float | None,
    *,
    in_async: bool,
    before: ast.stmt | None = None,
    after: ast.stmt | None = None,
    context: str = "",
) -> str:
    """What a test should do instead of this sleep, naming ``bastion.testing`` helpers.

    ``before``/``after`` are the neighbouring statements and ``context`` the source of
    the enclosing test: an ``assert`` after the sleep becomes a ``wait_for`` condition, a
    ``cast`` before it suggests ``rt.wait_idle()``, timer-ish code suggests virtual time.
    """
    if function != "time.sleep" and seconds == 0:
        return (
            "a zero sleep is a checkpoint, not a wait; if it is there to let actors "
            "run, use `await rt.wait_idle()`"
        )
    if not in_async:
        return _sync_advice(_condition(after))
    prefix = "time.sleep blocks the event loop; " if function == "time.sleep" else ""
    after_text, before_text = _text(after), _text(before)
    condition = _condition(after)
    if any(word in after_text for word in _PROBE_WORDS):
        advice = "await the message: `await probe.assert_receive(pattern, timeout=5.0)`"
    elif condition is not None and "await" not in condition:
        advice = (
            f"wait for the condition: `await bastion.testing.wait_for(lambda: {condition}, "
            "timeout=5.0)`"
        )
    elif any(word in after_text for word in _STATE_WORDS):
        advice = "wait for the state: `await wait_for_state(ref, predicate, timeout=5.0)`"
    elif any(word in before_text for word in _SEND_WORDS):
        advice = "wait until every mailbox is drained: `await rt.wait_idle()`"
    elif (seconds is not None and seconds >= 1.0) or any(w in context for w in _TIMER_WORDS):
        amount = "the delay" if seconds is None else f"{seconds:g} s"
        advice = (
            "use virtual time: take the `clock` fixture and `await clock.advance(...)` "
            f"by {amount} instead of waiting"
        )
    else:
        advice = (
            "wait for what you expect: `await bastion.testing.wait_for(condition, "
            "timeout=5.0)`, or `await rt.wait_idle()` for actor work"
        )
    return prefix + advice


def _sync_advice(condition: str | None) -> str:
    """Advice for a synchronous test, which cannot ``await``: no awaiting suggestion."""
    wait = "block on what signals the outcome with a deadline (`event.wait(timeout=5.0)`, "
    wait += "`future.result(timeout=5.0)`)"
    if condition is not None:
        wait = f"wait until `{condition}` holds: " + wait
    return (
        f"{wait}, or make the test `async def` so Bastion's pytest plugin runs it on "
        "virtual time and `bastion.testing.wait_for` can poll the condition"
    )

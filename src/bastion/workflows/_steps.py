"""Running one step: replay from the record, or attempts with durable retry delays.

A failure that the step's ``retry_on`` (default: :func:`bastion.resilience.is_retryable`)
accepts is recorded as ``retrying`` with its next attempt's time (``not_before``) and
retried after that time, also after a restart. Any other failure, or the last attempt's,
is recorded as ``failed`` and raised into the workflow as :class:`StepFailed` — on
replay too, the same way. A step that runs on a task other than its run's (a branch of
``asyncio.gather``) makes that task one of the run's ``branches``: the run's end cancels it.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from bastion._core import _event_names, _events
from bastion.persistence import UnstorableValue, UnsupportedType
from bastion.resilience import OperationTimeout, is_retryable
from bastion.telemetry import _hooks
from bastion.workflows._current import ATTEMPT, CURRENT
from bastion.workflows._definitions import StepOptions
from bastion.workflows._errors import NonDeterministicWorkflow, StepFailed
from bastion.workflows._records import StepKind, StepRecord, StepStatus

if TYPE_CHECKING:
    from bastion.workflows._run import Run

__all__ = ["check_recorded", "run_step", "step_failed"]

_STEP_SPAN = _event_names.DURABLE_STEP
_STEP_EVENTS = tuple((*_STEP_SPAN, end) for end in ("start", "stop", "exception"))


async def run_step(
    run: Run,
    step_no: int,
    fn: Callable[..., Any],
    options: StepOptions,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """The result of step ``step_no``: recorded, or run (and retried) and recorded."""
    rec = run.history.get(step_no)
    attempt = 1
    core = run.core
    if rec is not None:
        check_recorded(run, step_no, rec, StepKind.STEP, options.name)
        if run.replay is not None:
            await run.replay.reach(step_no, rec)  # outcomes in the order they were recorded
        if rec.status is StepStatus.COMPLETED:
            return core.decode(rec.result)
        if rec.status is StepStatus.FAILED:
            raise step_failed(run, rec)
        attempt = rec.attempts + 1
    task = asyncio.current_task()
    if task is not run.task and task is not None:
        run.add_branch(task)
    if rec is not None:
        await core.sleep_until(rec.not_before or 0.0)
    while True:
        await run.before_step()  # the previous step's record is durable before this one runs
        started = core.wall()
        begun = time.perf_counter()
        try:
            value = await _attempt(run, step_no, fn, options, args, kwargs, attempt)
            result = msgspec.Raw(core.codec.encode(value, options.result_type))
        except Exception as exc:
            retry = attempt < options.max_attempts and is_retryable(exc, options.retry_on)
            _hooks.count("bastion_workflow_steps", options.name, "retry" if retry else "failed")
            await _record_failure(run, step_no, options, attempt, started, exc, retry)
            if not retry:
                raise step_failed(run, run.history[step_no]) from exc
            await core.sleep_until(run.history[step_no].not_before or 0.0)
            attempt += 1
            continue
        _hooks.count("bastion_workflow_steps", options.name, "completed")
        _hooks.observe("bastion_workflow_step_seconds", time.perf_counter() - begun, options.name)
        done = StepRecord(
            name=options.name,
            result=result,
            attempts=attempt,
            started_at=started,
            finished_at=core.wall(),
        )
        await run.record_result(step_no, done)
        return value


async def _attempt(
    run: Run,
    step_no: int,
    fn: Callable[..., Any],
    options: StepOptions,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    attempt: int,
) -> Any:
    token = CURRENT.set(None)  # code inside a step runs plainly (nested steps are not recorded)
    numbered = ATTEMPT.set(attempt)
    try:
        if _events.listened(_STEP_EVENTS):
            meta = {"workflow_id": run.id, "step": options.name, "step_no": step_no}
            with _events.span(_STEP_SPAN, meta):
                return await _call(fn, options, args, kwargs)
        return await _call(fn, options, args, kwargs)
    finally:
        ATTEMPT.reset(numbered)
        CURRENT.reset(token)


async def _call(
    fn: Callable[..., Any], options: StepOptions, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    limit = options.timeout
    if limit is None:
        value = fn(*args, **kwargs)
        return await value if inspect.isawaitable(value) else value
    try:
        async with asyncio.timeout(limit):
            value = fn(*args, **kwargs)
            return await value if inspect.isawaitable(value) else value
    except TimeoutError as exc:
        raise OperationTimeout(f"step {options.name!r} timed out after {limit:g}s") from exc


async def _record_failure(
    run: Run,
    step_no: int,
    options: StepOptions,
    attempt: int,
    started: float,
    exc: Exception,
    retry: bool,
) -> None:
    core = run.core
    now = core.wall()
    failed = StepRecord(
        name=options.name,
        status=StepStatus.RETRYING if retry else StepStatus.FAILED,
        error=_describe(exc),
        error_type=type(exc).__name__,
        attempts=attempt,
        not_before=now + options.backoff.delay(attempt) if retry else None,
        started_at=started,
        finished_at=now,
    )
    await run.write([run.record(step_no, failed)])


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnsupportedType | UnstorableValue):
        return f"the step's result cannot be stored: {exc}"
    return str(exc) or type(exc).__name__


def step_failed(run: Run, rec: StepRecord) -> StepFailed:
    """The StepFailed error of a step recorded as failed."""
    attempts = "1 attempt" if rec.attempts == 1 else f"{rec.attempts} attempts"
    return StepFailed(
        f"workflow {run.id!r}: step {rec.name!r} failed after {attempts}: "
        f"{rec.error_type}: {rec.error}",
        context={"workflow_id": run.id, "step": rec.name, "error_type": rec.error_type or ""},
    )


def check_recorded(run: Run, step_no: int, rec: StepRecord, kind: StepKind, name: str) -> None:
    """Raise NonDeterministicWorkflow unless step ``step_no`` recorded ``kind`` ``name``."""
    if rec.kind is kind and rec.name == name:
        return
    d = run.definition
    raise NonDeterministicWorkflow(
        f"workflow {run.id!r} ({d.name} version {d.version}): step {step_no} is recorded "
        f"as {rec.kind.value} {rec.name!r}, but the code now calls {kind.value} {name!r} "
        "there. The code changed under a workflow in flight: keep the old code registered "
        "under the old version, or guard the change with ctx.patched(...)",
        context={"workflow_id": run.id, "step_no": step_no, "step": rec.name, "called": name},
    )

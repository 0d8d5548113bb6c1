"""The preflight readiness report: registered checks, each pass / fail / skip with a fix.

``run_preflight(context)`` runs every registered check in order and returns a
:class:`PreflightReport` ("7/9 checks passed, 1 skipped" and one line per check).
Third parties add theirs with :func:`register_check`; a check is a function (sync or
async) of the :class:`PreflightContext` returning a :class:`CheckResult`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from bastion.flags import FlagError, Flags
from bastion.persistence import Delete, Put, StateStore, StoreError
from bastion.rollout._model import RolloutState
from bastion.rollout._plan import RolloutPlan
from bastion.rollout._source import ERROR_OUTCOMES, EXPOSURE_OUTCOMES, Registry

__all__ = [
    "CheckResult",
    "PreflightContext",
    "PreflightReport",
    "check_names",
    "register_check",
    "run_preflight",
    "unregister_check",
]

#: Baseline calls wanted in the look-back window before a rollout starts.
MIN_BASELINE_CALLS = 100


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict: ``status`` is ``"pass"``, ``"fail"`` or ``"skip"``."""

    name: str
    status: str
    detail: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        """Whether it did not fail (a skipped check does not block a start)."""
        return self.status != "fail"


@dataclass
class PreflightContext:
    """What checks may look at. ``metrics`` is ``rt.metrics`` on a running node (None
    from the CLI); ``calls_per_second`` overrides the measured baseline traffic."""

    plan: RolloutPlan
    flags: Flags
    store: StateStore
    metrics: Registry | None = None
    calls_per_second: float | None = None
    window: float = 300.0
    source_paths: Sequence[str] = ()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PreflightReport:
    """Every check's result, in order."""

    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        """No check failed."""
        return all(r.ok for r in self.results)

    @property
    def summary(self) -> str:
        """``"N/M checks passed"`` (and how many were skipped)."""
        passed = sum(r.status == "pass" for r in self.results)
        skipped = sum(r.status == "skip" for r in self.results)
        tail = f", {skipped} skipped" if skipped else ""
        return f"{passed}/{len(self.results)} checks passed{tail}"

    def lines(self) -> list[str]:
        """The summary, then one line per check (with the fix of a failure)."""
        marks = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}
        out = [self.summary]
        for r in self.results:
            line = f"{marks[r.status]} {r.name}: {r.detail}"
            out.append(line + (f"\n     fix: {r.fix}" if r.fix and r.status == "fail" else ""))
        return out


Check = Callable[[PreflightContext], "CheckResult | Awaitable[CheckResult]"]
_CHECKS: dict[str, Check] = {}


def register_check(name: str) -> Callable[[Check], Check]:
    """Register a check under ``name`` (run after the ones before it); a decorator."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a check needs a non-empty name, got {name!r}")

    def add(check: Check) -> Check:
        if name in _CHECKS:
            raise ValueError(f"a preflight check named {name!r} is already registered")
        _CHECKS[name] = check  # noqa: BAS303 -- the check registry is process-wide by design
        return check

    return add


def unregister_check(name: str) -> None:
    """Remove a registered check (``KeyError`` if there is none)."""
    del _CHECKS[name]  # noqa: BAS303 -- the check registry's other writer


def check_names() -> tuple[str, ...]:
    """The registered checks, in the order they run."""
    return tuple(_CHECKS)


async def run_preflight(context: PreflightContext) -> PreflightReport:
    """Run every registered check on ``context``."""
    results = []
    for name, check in list(_CHECKS.items()):
        result = check(context)
        if inspect.isawaitable(result):
            result = await result
        results.append(result if result.name else CheckResult(name, result.status, result.detail))
    return PreflightReport(tuple(results))


# -- the built-in checks -------------------------------------------------------------------


@register_check("flag exists and provider ready")
def _flag_ready(ctx: PreflightContext) -> CheckResult:
    name, key = "flag exists and provider ready", ctx.plan.flag
    try:
        flag = ctx.flags.get(key)
    except FlagError as exc:
        fix = f"define it (bastion flags set {key} ...) or restore it from its journal"
        return CheckResult(name, "fail", str(exc), fix)
    if flag.canary is None:
        return CheckResult(
            name,
            "fail",
            f"flag {key!r} has no canary variant",
            f"give it one: flags.set({key!r}, canary=<variant>, ...)",
        )
    if not flag.enabled:
        return CheckResult(
            name,
            "fail",
            f"flag {key!r} is killed",
            f"bastion flags set {key} --enable (after checking why it was killed)",
        )
    return CheckResult(
        name,
        "pass",
        f"{key!r}: canary {flag.canary!r}, baseline {flag.default!r}, now {flag.percentage:g} %",
    )


@register_check("no other active rollout on the flag")
async def _no_active(ctx: PreflightContext) -> CheckResult:
    name = "no other active rollout on the flag"
    record = await ctx.store.read(f"agent/rollout:{ctx.plan.flag}", "state")
    if record is None:
        return CheckResult(name, "pass", "no rollout was ever started on this flag")
    try:
        fields = msgspec.json.decode(record.data)["fields"]
        state = msgspec.convert(fields["rollout"], RolloutState)
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as exc:
        return CheckResult(
            name,
            "fail",
            f"the rollout record is unreadable: {exc}",
            "inspect it with bastion rollout history; the store quarantines it",
        )
    if state.status.active:
        return CheckResult(
            name,
            "fail",
            f"attempt {state.attempt} is {state.status} in phase {state.phase + 1}",
            f"bastion rollout rollback {ctx.plan.flag} --reason ... (or wait for it to finish)",
        )
    return CheckResult(name, "pass", f"the last attempt ({state.attempt}) is {state.status}")


def _baseline_counts(ctx: PreflightContext) -> tuple[float, float, float] | None:
    """Baseline calls, errors and calls per second over the look-back window."""
    reading = getattr(ctx.metrics, "window", None)
    if reading is None:
        return None
    calls = errors = span = 0.0
    for outcome in sorted(EXPOSURE_OUTCOMES):
        got = reading(
            "bastion_calls", ctx.window, {"cohort": ctx.plan.baseline, "outcome": outcome}
        )
        calls += got.delta
        errors += got.delta if outcome in ERROR_OUTCOMES else 0.0
        if got.delta:
            span = max(span, got.seconds)  # the time the readings really cover
    return calls, errors, calls / max(1.0, min(ctx.window, span or ctx.window))


@register_check("baseline traffic and metrics flowing")
def _traffic(ctx: PreflightContext) -> CheckResult:
    name = "baseline traffic and metrics flowing"
    counts = _baseline_counts(ctx)
    if counts is None:
        if ctx.calls_per_second is not None:
            return CheckResult(
                name,
                "skip",
                f"no live metrics here; using the declared {ctx.calls_per_second:g} calls/s",
            )
        return CheckResult(
            name, "skip", "no live metrics here (run it on the node, or pass the expected traffic)"
        )
    calls = counts[0]
    if calls < MIN_BASELINE_CALLS:
        return CheckResult(
            name,
            "fail",
            f"{calls:.0f} baseline calls ({ctx.plan.baseline!r}) "
            f"in the last {ctx.window:.0f} s, {MIN_BASELINE_CALLS} wanted",
            "evaluate the flag on the request path (flags.scope / evaluate) "
            "so calls carry the cohort, and check rt.metrics is on",
        )
    return CheckResult(name, "pass", f"{calls:.0f} baseline calls in {ctx.window:.0f} s")


@register_check("baseline error rate under the SLO")
def _baseline_errors(ctx: PreflightContext) -> CheckResult:
    name = "baseline error rate under the SLO"
    counts = _baseline_counts(ctx)
    if counts is None or counts[0] == 0:
        return CheckResult(name, "skip", "no baseline calls measured here")
    rate = counts[1] / counts[0]
    if rate >= ctx.plan.error_slo:
        return CheckResult(
            name,
            "fail",
            f"baseline errors {rate:.2%} >= SLO {ctx.plan.error_slo:.2%}",
            "fix the baseline first, or declare the SLO you really have (error_slo)",
        )
    return CheckResult(name, "pass", f"{rate:.2%} < SLO {ctx.plan.error_slo:.2%}")


@register_check("phases strictly increasing to 100")
def _phases(ctx: PreflightContext) -> CheckResult:
    plan = ctx.plan  # a RolloutPlan cannot be built otherwise; say what it is
    shown = " -> ".join(f"{p:g}" for p in plan.phases)
    return CheckResult(
        "phases strictly increasing to 100",
        "pass",
        f"{shown} %, alpha {plan.alpha:g} (in (0, 0.1])",
    )


@register_check("canary calls per phase enough for the sensitivity")
def _projection(ctx: PreflightContext) -> CheckResult:
    name, plan = "canary calls per phase enough for the sensitivity", ctx.plan
    rate = ctx.calls_per_second
    if rate is None:
        counts = _baseline_counts(ctx)
        rate = counts[2] if counts is not None else None
    if rate is None or rate <= 0:
        return CheckResult(name, "skip", "traffic unknown: pass --calls-per-second")
    short = []
    for i, percent in enumerate(plan.phases[:-1]):
        hold = plan.max_hold * plan.dwell(i)
        projected = rate * percent / 100.0 * hold
        if projected < plan.min_canary_calls:
            needed = plan.dwell_needed(i, rate)
            short.append(f"{percent:g} % needs a dwell of {needed:.0f} s (has {plan.dwell(i):g})")
    if short:
        fix = "use plan.fitted_to(calls_per_second) (--fit) or raise min_dwell"
        return CheckResult(name, "fail", "; ".join(short), fix)
    first = rate * plan.phases[0] / 100.0 * plan.dwell(0)
    return CheckResult(
        name,
        "pass",
        f"at {rate:g} calls/s phase 1 projects {first:.0f} canary "
        f"calls in its dwell ({plan.min_canary_calls} needed)",
    )


@register_check("journal writable")
async def _journal(ctx: PreflightContext) -> CheckResult:
    name, ns = "journal writable", f"rollout-preflight/{ctx.plan.flag}"
    try:
        await ctx.store.write([Put(ns, "probe", b"{}")])
        await ctx.store.write([Delete(ns, "probe")])
    except StoreError as exc:
        return CheckResult(
            name,
            "fail",
            f"{type(exc).__name__}: {exc}",
            "check the store file's permissions and free disk space",
        )
    stats = ctx.store.statistics()
    return CheckResult(name, "pass", f"{stats.backend} store, {stats.quarantined} quarantined")


@register_check("store health")
async def _store(ctx: PreflightContext) -> CheckResult:
    name = "store health"
    quarantined = await ctx.store.quarantined(f"flags/{ctx.plan.flag}")
    quarantined += await ctx.store.quarantined(f"agent/rollout:{ctx.plan.flag}")
    if quarantined:
        reasons = "; ".join(q.reason for q in quarantined[:3])
        return CheckResult(
            name,
            "fail",
            f"{len(quarantined)} quarantined record(s) of this rollout: {reasons}",
            "inspect the quarantine, then define the "
            "flag again (bastion flags set) before rolling it out",
        )
    return CheckResult(name, "pass", "nothing of this flag or rollout quarantined")


@register_check("bastion check clean")
def _static(ctx: PreflightContext) -> CheckResult:
    name = "bastion check clean"
    if not ctx.source_paths:
        return CheckResult(name, "skip", "no source paths configured (--source)")
    from bastion.checks import check_paths

    report = check_paths(ctx.source_paths, jobs=1)
    active = report.active
    if active:
        first = active[0]
        return CheckResult(
            name,
            "fail",
            f"{len(active)} finding(s) in {report.files} files, first: {first}",
            "run bastion check on those paths and fix them",
        )
    return CheckResult(name, "pass", f"{report.files} files, {report.lines} lines, no finding")

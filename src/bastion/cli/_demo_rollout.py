"""``bastion demo --rollout[=good]``: run the rollout demo and print its summary."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from bastion import current_runtime
from bastion.cli._demo import EXIT_ERROR, _fail, _run_or_explain
from bastion.demo import DemoConfig
from bastion.demo._rollout import RolloutDemoSummary, run_rollout_demo

__all__ = ["rollout_demo"]


def rollout_demo(config: DemoConfig, *, good: bool, as_json: bool, verbose: bool) -> None:
    """Run it; exit 0 when the rollout ended as expected (bad: rolled back, good:
    promoted), 1 otherwise (e.g. ``--timeout`` ran out first)."""

    async def main() -> RolloutDemoSummary:
        return await run_rollout_demo(
            current_runtime(),
            config.db,
            good=good,
            chaos=config.chaos,
            seed=config.seed,
            timeout=config.timeout,
        )

    run_it: Any = _run_or_explain  # the same error handling as the pipeline demo
    summary: RolloutDemoSummary | None = run_it(main, config.db, verbose=verbose)
    if summary is None:
        _fail("interrupted")
        sys.exit(EXIT_ERROR)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), sort_keys=True))
    else:
        _print(summary)
    expected = "promoted" if good else "rolled_back"
    sys.exit(0 if summary.status == expected else 1)


def _print(s: RolloutDemoSummary) -> None:
    click.echo(
        f"rollout of the {s.candidate} candidate enrich step (flag demo.step_impl), "
        f"attempt {s.attempt}"
    )
    for d in s.decisions:
        click.echo(f"  {d['action']:<16} exposure {d['exposure']:>5g} %  {d['reason']}")
    click.echo(f"result: {s.status} ({s.reason}); exposure now {s.exposure:g} %")
    click.echo(
        f"requests: {s.requests} ({s.candidate_requests} to the candidate), "
        f"{s.failed_requests} failed, in {s.seconds:g} s"
    )
    click.echo("evidence (log likelihood ratio vs threshold; events/calls):")
    for e in s.evidence:
        mark = "  ALARM" if e["alarm"] else ""
        click.echo(
            f"  {e['signal']:<18} {e['statistic']:8.2f} vs {e['threshold']:5.2f}  "
            f"canary {e['canary_events']}/{e['canary_exposure']}  "
            f"baseline {e['baseline_events']}/{e['baseline_exposure']}{mark}"
        )

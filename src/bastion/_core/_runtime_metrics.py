"""Runtime-wide metrics read at collection from the kernel's own statistics.

Nothing here runs on a hot path: each callback reads ``runtime.statistics()`` (or a
supervisor's) when the registry is collected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from bastion._core._catalog import declare_catalog
from bastion._core._metrics import MetricKind, MetricsRegistry, Sample
from bastion._core._stats import RuntimeStatistics
from bastion._core._supervisor import Supervisor

if TYPE_CHECKING:
    from bastion._core._runtime import Runtime

__all__ = ["register_runtime_metrics"]

_COUNTERS = (
    ("bastion_actors_spawned", "Actors spawned.", lambda s: s.spawned),
    (
        "bastion_actors_stopped",
        "Actor incarnations that stopped (any reason).",
        lambda s: s.stopped,
    ),
    ("bastion_actors_crashed", "Actor incarnations that stopped abnormally.", lambda s: s.crashed),
    (
        "bastion_escalations",
        "Supervisors that exceeded their restart intensity.",
        lambda s: s.escalations,
    ),
    ("bastion_call_timeouts", "Calls that reached their deadline.", lambda s: s.call_timeouts),
    (
        "bastion_late_replies",
        "Replies that arrived after the caller's deadline.",
        lambda s: s.late_replies,
    ),
    ("bastion_mailbox_full", "Messages refused by a full mailbox.", lambda s: s.mailbox_full),
    (
        "bastion_dead_letters_evicted",
        "Dead letters dropped because the queue was full.",
        lambda s: s.dead_letters.evicted,
    ),
    ("bastion_tasks_started", "Supervised tasks started.", lambda s: s.tasks.started),
    ("bastion_tasks_succeeded", "Supervised tasks that returned.", lambda s: s.tasks.succeeded),
    ("bastion_tasks_failed", "Supervised tasks that raised.", lambda s: s.tasks.failed),
    ("bastion_tasks_cancelled", "Supervised tasks cancelled.", lambda s: s.tasks.cancelled),
    (
        "bastion_tasks_timed_out",
        "Supervised awaits that reached their deadline.",
        lambda s: s.tasks.timed_out,
    ),
    (
        "bastion_blocking_abandoned",
        "Blocking jobs abandoned in their thread after a timeout.",
        lambda s: s.tasks.blocking_abandoned,
    ),
)
_GAUGES = (
    ("bastion_actors", "Live actors.", lambda s: s.actors),
    ("bastion_actors_busy", "Actors handling or holding messages now.", lambda s: s.busy_actors),
    (
        "bastion_dead_letters_queued",
        "Dead letters held in the queue now.",
        lambda s: s.dead_letters.size,
    ),
    ("bastion_tasks_running", "Supervised tasks running now.", lambda s: s.tasks.running),
    (
        "bastion_blocking_running",
        "Blocking jobs running in threads now.",
        lambda s: s.tasks.blocking_running,
    ),
)

Read = Callable[[RuntimeStatistics], float]


def register_runtime_metrics(registry: MetricsRegistry, runtime: Runtime) -> None:
    """Declare the runtime-wide counters and gauges of ``runtime`` in ``registry``."""
    declare_catalog(registry)
    for kind, table in ((MetricKind.COUNTER, _COUNTERS), (MetricKind.GAUGE, _GAUGES)):
        for name, description, read in table:
            registry.callback(name, kind, description, _reader(runtime, read))
    registry.callback(
        "bastion_dead_letters",
        MetricKind.COUNTER,
        "Undeliverable messages, by reason (the text before the first ':').",
        lambda: (
            Sample((reason,), float(count))
            for reason, count in runtime.dead_letters.statistics().by_reason.items()
        ),
        labels=("reason",),
    )
    registry.callback(
        "bastion_restart_intensity_ratio",
        MetricKind.GAUGE,
        "Restarts in a supervisor's window as a fraction of its max_restarts (1 = at the limit).",
        lambda: _intensity(runtime),
        labels=("supervisor",),
    )


def _reader(runtime: Runtime, read: Read) -> Callable[[], tuple[Sample, ...]]:
    return lambda: (Sample((), float(read(_counters(runtime)))),)


def _counters(runtime: Runtime) -> RuntimeStatistics:
    """``runtime.statistics()`` without its per-actor sums (timers, monitors, links: 0).

    Every reader above needs only counters and sizes, and a collection calls each reader
    once: with ``statistics()`` (which walks every actor) a collection cost a walk of all
    actors per metric, so a window read on a node of 10,000 actors took about a second.
    """
    return runtime._statistics(per_actor=False)


def _intensity(runtime: Runtime) -> Iterator[Sample]:
    usage: dict[str, float] = {}
    for ref in runtime.actors():
        cell = ref._resolve_or_none()
        if cell is None or not isinstance(cell.actor, Supervisor):
            continue
        stats = cell.actor.statistics()
        ratio = stats.restarts_in_window / stats.max_restarts if stats.max_restarts else 0.0
        label = cell.name or type(cell.actor).__qualname__
        usage[label] = max(usage.get(label, 0.0), ratio)
    return (Sample((label,), ratio) for label, ratio in usage.items())

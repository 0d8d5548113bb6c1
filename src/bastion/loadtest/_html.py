"""The self-contained HTML report: tables and inline SVG charts, no script, no network.

Charts: latency over time (p50, p99, max per second, ms), throughput (iterations per
second) and errors per second; chaos faults are drawn as vertical marks on each.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bastion.loadtest._result import ChaosEvent, LoadTestResult, ScenarioStats

__all__ = ["line_chart", "render_html"]

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 1040, 220, 64, 28, 12
COLOURS = ("#2563eb", "#dc2626", "#6b7280", "#16a34a")
MARKED_FAULTS = ("kill", "store_fail")
MAX_MARKS = 300
_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#111;max-width:1100px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 6px}
table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 10px;border-bottom:1px solid #ddd;
text-align:right}th:first-child,td:first-child{text-align:left}.pass{color:#16a34a;font-weight:600}
.fail{color:#dc2626;font-weight:600}.muted{color:#6b7280}
svg{background:#fafafa;border:1px solid #eee}
.legend span{margin-right:14px}
"""


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * magnitude:
            return step * magnitude
    return value


def line_chart(
    title: str,
    unit: str,
    xs: Sequence[float],
    series: Sequence[tuple[str, Sequence[float]]],
    marks: Sequence[ChaosEvent] = (),
) -> str:
    """One SVG line chart: ``series`` of (label, values) over seconds ``xs``."""
    top = _nice_max(max((max(v, default=0.0) for _, v in series), default=0.0))
    span = max(1.0, (max(xs) - min(xs)) if xs else 1.0)
    x0 = min(xs) if xs else 0.0
    plot_w, plot_h = WIDTH - PAD_LEFT - 10, HEIGHT - PAD_BOTTOM - PAD_TOP

    def px(x: float) -> float:
        return PAD_LEFT + (x - x0) / span * plot_w

    def py(y: float) -> float:
        return PAD_TOP + plot_h - y / top * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{html.escape(title)}">'
    ]
    for i in range(5):
        y = top * i / 4
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{WIDTH - 10}" y1="{py(y):.1f}" y2="{py(y):.1f}" '
            f'stroke="#e5e7eb"/><text x="{PAD_LEFT - 6}" y="{py(y) + 4:.1f}" font-size="11" '
            f'text-anchor="end" fill="#6b7280">{y:g}</text>'
        )
    parts.append(
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 6}" font-size="11" fill="#6b7280">'
        f"seconds into the recorded window · {html.escape(unit)}</text>"
    )
    for event in marks:
        x = px(min(max(event.at, x0), x0 + span))
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_TOP}" y2="{PAD_TOP + plot_h}" '
            f'stroke="#f59e0b" stroke-dasharray="3,3"><title>{html.escape(event.kind)} '
            f"{html.escape(event.target)} at {event.at:.2f} s</title></line>"
        )
    for (label, values), colour in zip(series, COLOURS, strict=False):
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, values, strict=False))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{points}">'
            f"<title>{html.escape(label)}</title></polyline>"
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span style="color:{c}">■ {html.escape(label)}</span>'
        for (label, _), c in zip(series, COLOURS, strict=False)
    )
    if marks:
        legend += '<span style="color:#f59e0b">┆ chaos fault</span>'
    return f'<h2>{html.escape(title)}</h2><div class="legend">{legend}</div>{"".join(parts)}'


def _stats_row(stats: ScenarioStats) -> str:
    lat = stats.latency
    cells = [
        html.escape(stats.name),
        f"{stats.iterations:,}",
        f"{stats.failed:,}",
        f"{stats.error_rate * 100:.2f} %",
        f"{stats.throughput:,.1f}",
        *(f"{v:,.3f}" for v in (lat.p50_ms, lat.p90_ms, lat.p99_ms, lat.p99_9_ms, lat.max_ms)),
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def render_html(result: LoadTestResult, *, title: str) -> str:
    """The whole report as one HTML string."""
    verdict = (
        '<span class="pass">PASSED</span>' if result.passed else '<span class="fail">FAILED</span>'
    )
    header = (
        "<tr><th>scenario</th><th>iterations</th><th>failed</th><th>error rate</th>"
        "<th>rate (/s)</th><th>p50 (ms)</th><th>p90 (ms)</th><th>p99 (ms)</th>"
        "<th>p99.9 (ms)</th><th>max (ms)</th></tr>"
    )
    rows = "".join(_stats_row(s) for s in result.scenarios)
    if len(result.scenarios) > 1:
        rows += _stats_row(result.overall)
    xs = [float(s.second) for s in result.series]
    # kills and failed writes are marked; slowed writes (many, mild) only counted
    marks = [e for e in result.chaos if e.kind in MARKED_FAULTS][:MAX_MARKS]
    charts = [
        line_chart(
            "Latency over time",
            "milliseconds",
            xs,
            [
                ("p50", [s.p50_ms for s in result.series]),
                ("p99", [s.p99_ms for s in result.series]),
                ("max", [s.max_ms for s in result.series]),
            ],
            marks,
        ),
        line_chart(
            "Throughput",
            "iterations per second",
            xs,
            [("iterations/s", [float(s.iterations) for s in result.series])],
            marks,
        ),
        line_chart(
            "Errors",
            "failed iterations per second",
            xs,
            [("errors/s", [float(s.failed) for s in result.series])],
            marks,
        ),
    ]
    thresholds = "".join(
        f"<tr><td>{html.escape(t.threshold.text)}</td><td>{_value(t.threshold.metric, t.value)}"
        f'</td><td class="{"pass" if t.passed else "fail"}">{"pass" if t.passed else "FAIL"}'
        "</td></tr>"
        for t in result.thresholds
    )
    errors = "".join(
        f"<tr><td>{html.escape(e['scenario'])}</td><td>{html.escape(e['category'])}</td>"
        f"<td>{html.escape(e['code'])}</td><td>{e['count']:,}</td>"
        f'<td class="muted" style="text-align:left">{html.escape(e["example"])}</td></tr>'
        for e in result.errors[:100]
    )
    chaos = ""
    if result.chaos_summary:
        items = "".join(
            f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
            for k, v in result.chaos_summary.items()
        )
        chaos = f"<h2>Chaos</h2><table>{items}</table>" + _around(result)
    workers = ""
    if result.workers:
        items = "".join(
            f"<tr><td>worker {w.worker}</td><td>{'reported' if w.reported else 'LOST'}</td>"
            f"<td>{w.exit_code}</td><td>{html.escape(w.detail)}</td></tr>"
            for w in result.workers
        )
        workers = f"<h2>Worker processes</h2><table>{items}</table>"
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style><h1>{html.escape(title)} {verdict}</h1>"
        f'<div class="muted">{html.escape(result.model)} · {result.duration:g} s recorded · '
        f"{result.warmup_iterations:,} warmup iterations (not recorded) · "
        f"{result.interrupted:,} interrupted at the end · latencies of successful iterations "
        "in milliseconds</div>"
        f"<h2>Summary</h2><table>{header}{rows}</table>"
        + (f"<h2>Thresholds</h2><table>{thresholds}</table>" if thresholds else "")
        + "".join(charts)
        + (
            "<h2>Errors</h2><table><tr><th>scenario</th><th>category</th><th>code</th>"
            f"<th>count</th><th>example</th></tr>{errors}</table>"
            if errors
            else ""
        )
        + chaos
        + workers
        + "</html>"
    )


def _around(result: LoadTestResult) -> str:
    if not result.around_faults:
        return ""
    rows = "".join(
        f"<tr><td>{f['at']:.2f}</td><td>{html.escape(f['kind'])}</td>"
        f"<td>{html.escape(f['target'])}</td><td>{f['errors_before']:,}</td>"
        f"<td>{f['errors_after']:,}</td><td>{f['p99_before_ms']:,.3f}</td>"
        f"<td>{f['p99_after_ms']:,.3f}</td></tr>"
        for f in result.around_faults
    )
    return (
        "<h2>Around each fault</h2><table><tr><th>at (s)</th><th>fault</th><th>target</th>"
        "<th>errors 2 s before</th><th>errors 2 s after</th><th>p99 before (ms)</th>"
        f"<th>p99 after (ms)</th></tr>{rows}</table>"
    )


def _value(metric: str, value: float) -> str:
    if metric == "error_rate":
        return f"{value * 100:.2f} %"
    if metric in ("rate",):
        return f"{value:,.1f} /s"
    if metric in ("errors", "iterations"):
        return f"{value:,.0f}"
    return f"{value * 1000:,.3f} ms"

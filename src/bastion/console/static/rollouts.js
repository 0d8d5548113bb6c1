// Bastion console: the flags & rollouts view (exposure, statistic vs threshold, controls).
"use strict";

const PHASE_COLORS = ["rgba(88,166,255,0.07)", "rgba(188,140,255,0.09)"];
const detailCache = {};

async function loadDetail(flag) {
  const response = await fetch(`/api/rollouts/${encodeURIComponent(flag)}`, {
    headers: window.consoleHeaders(), credentials: "omit" });
  if (!response.ok) return null;
  return response.json();
}

// Exposure (step line from the journal), phase bands, each decision marked; the latest
// statistic of each signal against its threshold in the evidence table.
function drawExposure(canvas, detail) {
  const journal = detail.journal;
  if (!journal.length) return;
  const now = Math.max(detail.status.last_tick, journal[journal.length - 1].at);
  const xs = []; const ys = [];
  for (const e of journal) { xs.push(e.at); ys.push(e.percent); }
  xs.push(now); ys.push(detail.status.percent);
  const bands = [];
  journal.forEach((e, i) => {
    const to = i + 1 < journal.length ? journal[i + 1].at : now;
    bands.push({ from: e.at, to, label: `phase ${e.phase + 1}`, color: PHASE_COLORS[i % 2] });
  });
  const marks = journal.filter((e) => e.action !== "start").map((e) => ({ at: e.at, label: e.action }));
  window.drawChart(canvas, xs, [ys], { labels: ["exposure %"], bands, marks });
}

function drawStatistic(canvas, detail) {
  const journal = detail.journal.filter((e) => e.evidence.length);
  const signal = (detail.evidence.find((e) => e.alarm) || detail.evidence[0] || {}).signal;
  if (!signal) return;
  const points = journal.map((e) => [e.at, e.evidence.find((v) => v.signal === signal)]).filter((p) => p[1]);
  const current = detail.evidence.find((v) => v.signal === signal);
  points.push([Math.max(detail.status.last_tick, points.length ? points[points.length - 1][0] : 0), current]);
  window.drawChart(canvas, points.map((p) => p[0]), [points.map((p) => p[1].statistic)], {
    labels: [`${signal}: canary vs baseline`], threshold: { value: current.threshold, label: `threshold ${current.threshold.toFixed(2)}` },
  });
}

function evidenceTable(evidence, el, fmt) {
  return el("table", { class: "evidence" },
    el("thead", {}, el("tr", {}, ...["signal", "statistic", "threshold", "alarm", "canary events/exposure",
      "baseline events/exposure", "α", "p"].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...evidence.map((v) => el("tr", { dataset: { signal: v.signal, alarm: String(v.alarm) } },
      el("td", {}, v.signal), el("td", {}, fmt(v.statistic, 3)), el("td", {}, fmt(v.threshold, 3)),
      el("td", {}, v.alarm ? "ALARM" : "ok"), el("td", {}, `${v.canary_events}/${v.canary_exposure}`),
      el("td", {}, `${v.baseline_events}/${v.baseline_exposure}`), el("td", {}, v.alpha), el("td", {}, fmt(v.p_value, 4))))));
}

async function renderRolloutView(rollouts, flags, ui) {
  const { el, control, askWhy, fmt } = ui;
  const root = document.querySelector("#rollouts");
  if (!rollouts.length) {
    root.replaceChildren(el("p", { class: "muted" }, "No rollout runs on this node."));
  } else {
    const boxes = [];
    for (const r of rollouts) {
      const detail = await loadDetail(r.flag);
      detailCache[r.flag] = detail;
      const act = (action) => () => {
        const why = askWhy(action, `the rollout of ${r.flag}`);
        if (why) control(`/api/rollouts/${encodeURIComponent(r.flag)}/${action}`, { why });
      };
      const buttons = ["pause", "resume", "promote", "rollback", "retry"].map((a) =>
        el("button", { class: a === "rollback" ? "danger" : "", "data-action": a, onclick: act(a) }, a));
      const exposure = el("canvas", { class: "exposure" });
      const statistic = el("canvas", { class: "statistic" });
      const last = detail && detail.journal.length ? detail.journal[detail.journal.length - 1] : null;
      boxes.push(el("div", { class: "rollout", dataset: { flag: r.flag, status: r.status } },
        el("h2", {}, `${r.flag} `, el("span", { class: "state" }, r.status),
          el("span", { class: "muted" }, ` phase ${r.phase + 1}/${r.phases.length} · ${r.percent}% exposed · attempt ${r.attempt} · canary calls ${r.phase_canary_calls}/${r.min_canary_calls}`)),
        r.reason ? el("p", { class: "reason" }, `reason: ${r.reason}`) : "",
        el("div", { class: "controls" }, ...buttons),
        el("div", { class: "charts" }, el("figure", {}, el("figcaption", {}, "Exposure and phases"), exposure),
          el("figure", {}, el("figcaption", {}, "Statistic vs threshold"), statistic)),
        last ? el("p", { class: "decision" }, `last decision: ${last.action} by ${last.actor} (${last.from_status} → ${last.to_status})${last.reason ? ": " + last.reason : ""}`) : "",
        detail ? evidenceTable(last && last.evidence.length ? last.evidence : detail.evidence, el, fmt) : ""));
      if (detail) setTimeout(() => { drawExposure(exposure, detail); drawStatistic(statistic, detail); }, 0);
    }
    root.replaceChildren(...boxes);
  }
  const flagRoot = document.querySelector("#flags");
  flagRoot.replaceChildren(el("h2", {}, "Flags"), el("table", {},
    el("thead", {}, el("tr", {}, ...["flag", "canary %", "enabled", ""].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...flags.map((f) => el("tr", { dataset: { flag: f.key } },
      el("td", {}, f.key), el("td", {}, f.percentage), el("td", {}, String(f.enabled)),
      el("td", {}, el("button", { onclick: () => {
        const value = window.prompt(`Canary percentage of ${f.key} (0-100)`, String(f.percentage));
        if (value === null) return;
        const why = askWhy("set", f.key);
        if (why) control(`/api/flags/${encodeURIComponent(f.key)}`, { why, percentage: Number(value) });
      } }, "set %"), " ", el("button", { class: "danger", onclick: () => {
        const why = askWhy(f.enabled ? "kill" : "enable", f.key);
        if (why) control(`/api/flags/${encodeURIComponent(f.key)}`, { why, enabled: !f.enabled });
      } }, f.enabled ? "kill" : "enable")))))));
}

window.renderRolloutView = renderRolloutView;

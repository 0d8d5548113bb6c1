// Bastion console dashboard: plain JS over the console's JSON API and its event stream.
"use strict";

const state = { token: sessionStorage.getItem("bastion-token") || "", points: [], view: "tree",
  actorOffset: 0, restarts: {} };
const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") node.style.cssText = value;  // CSSOM: allowed by the page's CSP
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function headers(extra = {}) {
  const h = { ...extra };
  if (state.token) h.Authorization = `Bearer ${state.token}`;
  return h;
}
window.consoleHeaders = headers;

async function getJSON(path) {
  const response = await fetch(path, { headers: headers(), credentials: "omit" });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// Every control action: POST with the bearer token (never a cookie), show the outcome.
async function control(path, body) {
  const response = await fetch(path, {
    method: "POST", credentials: "omit",
    headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify(body),
  });
  let payload = {};
  try { payload = await response.json(); } catch (e) { payload = {}; }
  const ok = response.ok;
  const message = ok
    ? `${payload.audit ? payload.audit.action + " " + payload.audit.target + ": " + payload.audit.detail : "done"}`
    : `refused (${response.status}): ${payload.error ? payload.error.message : response.statusText}`;
  const result = $("#action-result");
  result.textContent = message;
  result.dataset.ok = String(ok);
  result.dataset.status = String(response.status);
  if (ok) { refreshTree(); refreshAudit(); refreshRollouts(); }
  return { ok, payload };
}

function fmt(v, digits = 1) {
  if (v === null || v === undefined) return "–";
  return Number(v).toFixed(digits);
}
const ms = (s) => (s === null || s === undefined ? "–" : (s * 1000).toFixed(2));

// ---------------------------------------------------------------- the tree
function intensityMeter(used) {
  const level = used >= 0.8 ? "bad" : used >= 0.5 ? "warn" : "ok";
  return el("span", { class: "meter", dataset: { level }, title: `intensity used ${Math.round(used * 100)} %` },
    el("span", { style: `width:${Math.min(100, used * 100)}%` }));
}

function askWhy(action, target) {
  const why = window.prompt(`Why ${action} ${target}? (recorded in the audit journal)`, "operator action");
  return why && why.trim() ? why.trim() : null;
}

function childRow(sup, child) {
  const act = (action) => () => {
    const why = askWhy(action, `${sup.id}/${child.id}`);
    if (why) control(`/api/supervisors/${encodeURIComponent(sup.id)}/children/${encodeURIComponent(child.id)}/${action}`, { why });
  };
  return el("tr", { dataset: { child: child.id } },
    el("td", {}, child.id),
    el("td", {}, child.actor_class),
    el("td", { class: child.alive ? "" : "down" }, child.alive ? "running" : "down"),
    el("td", {}, child.restart),
    el("td", { class: "restarts", dataset: { value: child.restarts } }, `${child.restarts} restarts`),
    el("td", {}, el("button", { onclick: act("restart"), "data-action": "restart" }, "Restart"), " ",
      el("button", { class: "danger", onclick: act("terminate"), "data-action": "terminate" }, "Terminate")));
}

function supervisorBox(sup, byId) {
  const head = el("div", { class: "head" },
    el("span", { class: "name" }, sup.name || `#${sup.actor_id}`),
    el("span", { class: "muted" }, sup.strategy),
    el("span", { class: "alive" }, `${sup.alive_children}/${sup.children} children up`),
    el("span", { class: "sup-restarts", dataset: { value: sup.restarts } }, `${sup.restarts} restarts`),
    el("span", {}, "intensity ", intensityMeter(sup.intensity_used), ` ${sup.restarts_in_window}/${sup.max_restarts} in ${sup.max_seconds}s`));
  const table = el("table", { class: "children" });
  const box = el("div", { class: "sup", dataset: { supervisor: sup.id } }, head, table);
  for (const child of sup.child_rows) {
    if (child.supervisor && byId[child.supervisor]) continue;  // nested below
    table.append(childRow(sup, child));
  }
  if (sup.children_truncated) box.append(el("p", { class: "muted" }, `… more children: /api/supervisors/${sup.id}`));
  for (const child of sup.child_rows) {
    if (child.supervisor && byId[child.supervisor]) box.append(supervisorBox(byId[child.supervisor], byId));
  }
  return box;
}

async function refreshTree() {
  const tree = await getJSON("/api/tree");
  const byId = Object.fromEntries(tree.supervisors.map((s) => [s.id, s]));
  const root = $("#tree");
  root.replaceChildren(...tree.roots.map((id) => supervisorBox(byId[id], byId)));
  $("#unsupervised").textContent = `${tree.unsupervised_actors} actors run outside any supervisor.`;
  for (const sup of tree.supervisors) state.restarts[sup.id] = sup.restarts;
}

// Apply a live snapshot to the tree without rebuilding it.
function liveTree(snapshot) {
  let rebuild = false;
  for (const sup of snapshot.supervisors) {
    const box = document.querySelector(`.sup[data-supervisor="${CSS.escape(sup.id)}"]`);
    if (!box) { rebuild = true; continue; }
    const counter = box.querySelector(":scope > .head .sup-restarts");
    if (Number(counter.dataset.value) !== sup.restarts) {
      counter.dataset.value = sup.restarts;
      counter.textContent = `${sup.restarts} restarts`;
      box.classList.remove("flash"); void box.offsetWidth; box.classList.add("flash");
      rebuild = true;  // child rows (ids, alive) changed too
    }
    box.querySelector(":scope > .head .alive").textContent = `${sup.alive_children}/${sup.children} children up`;
  }
  if (rebuild) refreshTree();
}

// ---------------------------------------------------------------- counters, health, charts
function applySnapshot(s) {
  const r = s.runtime;
  $("#c-actors").textContent = r.actors;
  $("#c-busy").textContent = r.busy_actors;
  $("#c-restarts").textContent = r.restarts;
  $("#c-crashed").textContent = r.crashed;
  $("#c-dead").textContent = r.dead_letters;
  $("#c-calls").textContent = fmt(s.point.calls_per_second);
  const health = $("#health");
  health.dataset.status = s.health.status || "unknown";
  health.textContent = `health: ${s.health.status || "n/a"}${s.health.drivers.length ? " (" + s.health.drivers.join(", ") + ")" : ""}`;
  state.points.push(s.point);
  if (state.points.length > 600) state.points.shift();
  liveTree(s);
  const signature = JSON.stringify([s.rollouts, s.flags]);
  if (state.view === "rollouts" && signature !== state.rolloutSignature) {
    state.rolloutSignature = signature;
    renderRollouts(s.rollouts, s.flags);
  }
  if (state.view === "charts") { drawCharts(); renderSignals(s.health); }
  if (state.view === "charts" && s.seq % 5 === 0) refreshTaskQueues().catch(() => {});
}

function drawCharts() {
  const p = state.points;
  const xs = p.map((q) => q.at);
  drawChart($("#ch-latency"), xs, [p.map((q) => q.latency_p50 === null ? null : q.latency_p50 * 1000),
    p.map((q) => q.latency_p99 === null ? null : q.latency_p99 * 1000)], { labels: ["p50", "p99"] });
  drawChart($("#ch-errors"), xs, [p.map((q) => q.error_rate * 100)], { labels: ["errors"] });
  drawChart($("#ch-restarts"), xs, [p.map((q, i) => (i ? Math.max(0, q.restarts - p[i - 1].restarts) : 0))], { labels: ["restarts"] });
  drawChart($("#ch-queues"), xs, [p.map((q) => q.mailbox_depth), p.map((q) => q.task_queue)], { labels: ["mailboxes", "task queues"] });
}

function renderSignals(health) {
  $("#signals tbody").replaceChildren(...health.signals.map((r) => el("tr", {},
    el("td", {}, r.signal), el("td", {}, fmt(r.value, 4)), el("td", {}, r.degraded), el("td", {}, r.failing),
    el("td", {}, `${r.window}s`), el("td", {}, r.samples), el("td", {}, r.status))));
}

async function refreshTaskQueues() {
  const q = await getJSON("/api/task-agents?limit=50");
  $("#task-queues tbody").replaceChildren(...q.items.map((a) => el("tr", {},
    el("td", {}, a.name), el("td", {}, a.available ? a.status : "unavailable"), el("td", {}, a.available ? a.queued : "–"),
    el("td", {}, a.available ? ["high", "normal", "low"].map((p) => a.queued_by_priority[p] || 0).join(" / ") : "–"),
    el("td", {}, a.oldest_waiting_seconds == null ? "–" : `${fmt(a.oldest_waiting_seconds)} s`),
    el("td", {}, a.current_task || "–"), el("td", {}, a.available ? a.processed : "–"), el("td", {}, a.available ? a.failed : "–"))));
}

// ---------------------------------------------------------------- actors
async function refreshActors() {
  const summary = await getJSON("/api/actors/summary");
  $("#classes tbody").replaceChildren(...summary.groups.map((g) => el("tr", {},
    el("td", {}, g.key), el("td", {}, g.actors), el("td", {}, g.busy), el("td", {}, g.mailbox_depth),
    el("td", {}, g.mailbox_max), el("td", {}, fmt(g.rate)), el("td", {}, fmt(g.calls_per_second)),
    el("td", {}, ms(g.latency_p50)), el("td", {}, ms(g.latency_p99)))));
  const q = $("#actor-q").value.trim();
  const params = new URLSearchParams({ sort: $("#actor-sort").value, offset: state.actorOffset, limit: 50 });
  if (q) params.set("q", q);
  const page = await getJSON(`/api/actors?${params}`);
  $("#actor-page").textContent = `${page.offset + 1}–${Math.min(page.offset + page.limit, page.total)} of ${page.total}`;
  $("#actors tbody").replaceChildren(...page.items.map((a) => el("tr", {},
    el("td", {}, a.id), el("td", {}, a.name || ""), el("td", {}, a.actor_class), el("td", {}, a.state),
    el("td", {}, `${a.mailbox_depth}/${a.mailbox_capacity}`), el("td", {}, fmt(a.rate)),
    el("td", {}, a.processed), el("td", {}, a.supervisor ? `${a.supervisor}/${a.child_id}` : "–"))));
}

// ---------------------------------------------------------------- dead letters, audit
async function refreshDead() {
  const d = await getJSON("/api/dead-letters?limit=100");
  const reasons = Object.entries(d.statistics.by_reason).map(([k, v]) => `${k}: ${v}`).join(" · ");
  $("#dead-reasons").textContent = `${d.statistics.size} queued (capacity ${d.statistics.capacity}), ${d.statistics.total} total, ${d.statistics.replayed} replayed. ${reasons}`;
  $("#dead tbody").replaceChildren(...d.items.map((x) => el("tr", {},
    el("td", {}, `${fmt(x.age)} s`), el("td", {}, x.recipient), el("td", {}, x.reason), el("td", {}, x.message))));
}

async function refreshAudit() {
  const a = await getJSON("/api/audit");
  $("#audit tbody").replaceChildren(...a.entries.map((e) => el("tr", {},
    el("td", {}, e.seq), el("td", {}, new Date(e.at * 1000).toLocaleTimeString()), el("td", {}, e.who),
    el("td", {}, e.action), el("td", {}, e.target), el("td", {}, e.why), el("td", {}, e.outcome), el("td", {}, e.detail))));
}

// ---------------------------------------------------------------- flags and rollouts
async function refreshRollouts() {
  try {
    const [rollouts, flags] = await Promise.all([getJSON("/api/rollouts"), getJSON("/api/flags")]);
    await renderRollouts(rollouts.items, flags.items);
  } catch (e) {
    $("#rollouts").replaceChildren(el("p", { class: "muted" }, "This node has no flags or rollouts."));
  }
}

async function renderRollouts(rollouts, flags) {
  if (window.renderRolloutView) await window.renderRolloutView(rollouts, flags, { el, control, askWhy, fmt });
}

// ---------------------------------------------------------------- live events (fetch stream, so the token can ride in a header)
async function listen() {
  const live = $("#live");
  for (;;) {
    try {
      const response = await fetch("/api/events", { headers: headers(), credentials: "omit" });
      if (!response.ok || !response.body) throw new Error(String(response.status));
      live.dataset.state = "live"; live.textContent = "live";
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
          const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) applySnapshot(JSON.parse(data));
        }
      }
    } catch (e) { /* reconnect below */ }
    live.dataset.state = "down"; live.textContent = "reconnecting";
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
}

// ---------------------------------------------------------------- wiring
function show(view) {
  state.view = view;
  for (const b of document.querySelectorAll("nav button")) b.classList.toggle("active", b.dataset.view === view);
  for (const s of document.querySelectorAll(".view")) s.classList.toggle("active", s.id === `view-${view}`);
  const loaders = { actors: refreshActors, dead: refreshDead, audit: refreshAudit, rollouts: refreshRollouts,
    charts: async () => { drawCharts(); await refreshTaskQueues(); }, tree: refreshTree };
  loaders[view]().catch(() => {});
}

function setToken(token) {
  state.token = token;
  if (token) sessionStorage.setItem("bastion-token", token); else sessionStorage.removeItem("bastion-token");
  $("#token-state").textContent = token ? "token set for this tab" : "no token: read-only";
}

async function start() {
  setToken(state.token);
  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault(); setToken($("#token").value.trim()); $("#token").value = "";
  });
  for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => show(b.dataset.view));
  $("#actor-sort").addEventListener("change", () => { state.actorOffset = 0; refreshActors(); });
  $("#actor-q").addEventListener("input", () => { state.actorOffset = 0; refreshActors(); });
  $("#actor-prev").addEventListener("click", () => { state.actorOffset = Math.max(0, state.actorOffset - 50); refreshActors(); });
  $("#actor-next").addEventListener("click", () => { state.actorOffset += 50; refreshActors(); });
  $("#replay-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { why: $("#replay-why").value.trim() };
    if ($("#replay-name").value.trim()) body.name = $("#replay-name").value.trim();
    if ($("#replay-reason").value.trim()) body.reason = $("#replay-reason").value.trim();
    control("/api/dead-letters/replay", body).then(refreshDead);
  });
  try {
    const series = await getJSON("/api/series");
    state.points = series.points;
  } catch (e) { /* the stream fills it */ }
  await refreshTree().catch(() => {});
  setInterval(() => { if (state.view === "actors") refreshActors().catch(() => {}); }, 5000);
  listen();
}

document.addEventListener("DOMContentLoaded", start);

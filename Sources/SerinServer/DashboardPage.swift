/// The dashboard served at `/`: one self-contained page (inline CSS and vanilla JavaScript, no CDN, no
/// build step) that shows every Canary's phase, weights, verdicts, charts and events, follows `/events`
/// live, and steers rollouts through the API.
///
/// Elements carry stable `data-*` attributes (`data-canary`, `data-phase`, `data-canary-weight`,
/// `data-chart`, `data-action`...) that scripts and the browser test query.
public enum DashboardPage {
    public static let html = ##"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Serin · canaries</title>
<style>
:root { --stable: #2f6fdf; --canary: #e8871e; --pass: #2e9d57; --fail: #d23c3c; --inconclusive: #8a8f98; --ink: #1d2330; --muted: #636b7a; --line: #dfe3ea; --bg: #f5f6f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
header { display: flex; align-items: baseline; gap: 1rem; padding: .8rem 1.2rem; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 1.2rem; }
#connection { font-size: .85rem; color: var(--muted); }
#connection[data-connection="live"]::before { content: "● "; color: var(--pass); }
#connection[data-connection="reconnecting"]::before { content: "● "; color: var(--fail); }
main { padding: 1rem; display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 620px), 1fr)); }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 1rem; min-width: 0; }
.card h2 { margin: 0; font-size: 1.1rem; display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; }
.phase { font-size: .8rem; padding: .1rem .55rem; border-radius: 99px; background: #e7ebf3; }
.phase[data-phase="Succeeded"] { background: #dcf2e3; color: #1b6b3a; }
.phase[data-phase="Failed"], .phase[data-phase="RollingBack"] { background: #fbe1e1; color: #9c2323; }
.phase[data-phase="Progressing"], .phase[data-phase="Promoting"] { background: #fdeedc; color: #92520c; }
.phase[data-phase="Paused"] { background: #e9e4f7; color: #4b3592; }
.destinations { color: var(--muted); font-size: .85rem; margin: .2rem 0 .6rem; overflow-wrap: anywhere; }
.bar { display: flex; height: 1.6rem; border-radius: 6px; overflow: hidden; font-size: .8rem; color: #fff; background: var(--line); }
.bar div { display: flex; align-items: center; justify-content: center; white-space: nowrap; overflow: hidden; }
.bar .stable { background: var(--stable); }
.bar .canary { background: var(--canary); }
.facts { display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; margin: .6rem 0; font-size: .9rem; }
.facts b { font-weight: 600; }
.message { font-size: .9rem; margin: .3rem 0; color: var(--muted); }
.verdicts { list-style: none; padding: 0; margin: .4rem 0; font-size: .85rem; }
.verdicts li { padding: .15rem 0 .15rem .7rem; border-left: 3px solid var(--inconclusive); margin: .2rem 0; overflow-wrap: anywhere; }
.verdicts li[data-verdict="pass"] { border-color: var(--pass); }
.verdicts li[data-verdict="fail"] { border-color: var(--fail); }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: .6rem 0; }
.actions button { font: inherit; padding: .35rem .9rem; border-radius: 6px; border: 1px solid var(--line); background: #fff; cursor: pointer; }
.actions button[data-action="abort"] { border-color: var(--fail); color: var(--fail); }
.actions button[data-action="promote"] { border-color: var(--pass); color: var(--pass); }
.actions button:disabled { opacity: .4; cursor: default; }
.charts { display: grid; gap: .6rem; grid-template-columns: repeat(3, minmax(0, 1fr)); margin: .6rem 0; }
figure { margin: 0; }
figcaption { font-size: .8rem; color: var(--muted); }
svg.chart { width: 100%; height: auto; background: #fbfcfd; border: 1px solid var(--line); border-radius: 6px; }
svg.chart path { fill: none; stroke-width: 2; vector-effect: non-scaling-stroke; }
svg.chart path[data-series="canary"] { stroke: var(--canary); }
svg.chart path[data-series="stable"] { stroke: var(--stable); }
svg.chart line[data-threshold] { stroke: var(--fail); stroke-dasharray: 4 3; vector-effect: non-scaling-stroke; }
svg.chart circle[data-verdict="pass"] { fill: var(--pass); }
svg.chart circle[data-verdict="fail"] { fill: var(--fail); }
svg.chart circle[data-verdict="inconclusive"] { fill: var(--inconclusive); }
svg.chart text { font-size: 9px; fill: var(--muted); }
.legend { font-size: .8rem; color: var(--muted); }
.legend span::before { content: "━ "; }
.legend .stable::before { color: var(--stable); }
.legend .canary::before { color: var(--canary); }
.legend .threshold::before { content: "┄ "; color: var(--fail); }
details { margin-top: .4rem; }
summary { cursor: pointer; font-size: .9rem; }
.events { list-style: none; padding: 0; margin: .4rem 0; max-height: 16rem; overflow: auto; font-size: .82rem; }
.events li { display: grid; grid-template-columns: 4.6rem 1fr; gap: .5rem; padding: .2rem 0; border-bottom: 1px solid var(--bg); }
.events li[data-severity="Warning"] { color: #9c2323; }
.events time { color: var(--muted); font-variant-numeric: tabular-nums; }
.releases { list-style: none; padding: 0; margin: .4rem 0; font-size: .82rem; }
.releases li { padding: .2rem 0; border-bottom: 1px solid var(--bg); }
.releases time { color: var(--muted); margin-right: .5rem; font-variant-numeric: tabular-nums; }
.releases li[data-outcome="Promoted"] b { color: var(--pass); }
.releases li[data-outcome="RolledBack"] b { color: var(--fail); }
#empty { padding: 2rem; color: var(--muted); }
@media (max-width: 700px) { .charts { grid-template-columns: 1fr; } main { padding: .5rem; } }
</style>
</head>
<body>
<header><h1>Serin</h1><span id="connection" data-connection="connecting">connecting…</span></header>
<main id="canaries"></main>
<p id="empty" hidden>No Canaries yet: <code>serin up -f manifests/</code> with a Canary resource starts one.</p>
<script>
"use strict";
const state = { canaries: new Map(), refreshing: new Map() };
const $ = (tag, attrs = {}, ...children) => {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, value);
  for (const child of children) element.append(child);
  return element;
};
const svg = (tag, attrs = {}) => {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, value);
  return element;
};
const clock = (seconds) => new Date(seconds * 1000).toLocaleTimeString([], { hour12: false });
const since = (seconds) => {
  const total = Math.max(0, Math.round(Date.now() / 1000 - seconds));
  const h = Math.floor(total / 3600), m = Math.floor(total / 60) % 60, s = total % 60;
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
};
const number = (value, unit) => value == null ? "–" : unit === "percent" ? value.toFixed(2) + "%" : unit === "ms" ? value.toFixed(1) + "ms" : String(+value.toFixed(3));

function token() { return sessionStorage.getItem("serin-admin-token"); }
async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers);
  if (token()) headers.Authorization = "Bearer " + token();
  let response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) {
    const given = prompt("This Serin needs its admin token (--admin-token-file / SERIN_ADMIN_TOKEN):");
    if (given) {
      sessionStorage.setItem("serin-admin-token", given.trim());
      headers.Authorization = "Bearer " + given.trim();
      response = await fetch(path, Object.assign({}, options, { headers }));
    }
  }
  return response;
}

async function loadAll() {
  const response = await api("/canaries");
  if (!response.ok) { document.getElementById("empty").hidden = false; return; }
  const statuses = await response.json();
  const names = new Set(statuses.map((status) => key(status)));
  for (const [name, entry] of state.canaries) if (!names.has(name)) { entry.card.remove(); state.canaries.delete(name); }
  document.getElementById("empty").hidden = statuses.length > 0;
  await Promise.all(statuses.map((status) => refresh(key(status), status)));
}
const key = (item) => (item.namespace || "default") + "/" + (item.name || item.canary);
const path = (name) => "/canaries/" + encodeURIComponent(name.split("/")[1]);

/// Coalesces bursts of events into one reload of the canary's status, series and events.
function scheduleRefresh(name) {
  if (state.refreshing.has(name)) return;
  state.refreshing.set(name, setTimeout(() => { state.refreshing.delete(name); refresh(name); }, 250));
}

async function refresh(name, status) {
  try {
    const [current, metrics, events] = await Promise.all([
      status ? Promise.resolve(status) : api(path(name)).then((r) => r.ok ? r.json() : null),
      api(path(name) + "/metrics").then((r) => r.ok ? r.json() : null),
      api(path(name) + "/events?limit=200").then((r) => r.ok ? r.json() : []),
    ]);
    if (!current) { loadAll(); return; }
    render(name, current, metrics, events);
  } catch (error) {
    console.warn("refresh " + name, error);
  }
}

function card(name) {
  let entry = state.canaries.get(name);
  if (entry) return entry;
  const [namespace, short] = name.split("/");
  const element = $("section", { class: "card", "data-canary": short, "data-namespace": namespace });
  element.innerHTML = `
    <h2><span data-name></span><span class="phase" data-phase></span></h2>
    <div class="destinations" data-destinations></div>
    <div class="bar" data-weights><div class="stable" data-stable-bar></div><div class="canary" data-canary-bar></div></div>
    <div class="facts">
      <span>step <b data-step></b></span><span>in phase <b data-time-in-phase></b></span>
      <span>failed checks <b data-failed-checks></b></span></div>
    <div class="message" data-message></div>
    <ul class="verdicts" data-verdicts></ul>
    <div class="actions">
      <button data-action="promote">Promote</button><button data-action="pause">Pause</button>
      <button data-action="resume">Resume</button><button data-action="abort">Abort</button></div>
    <div class="legend"><span class="stable">stable</span> <span class="canary">canary</span> <span class="threshold">threshold</span> · dots: verdict per check</div>
    <div class="charts" data-charts></div>
    <details open data-train><summary>Releases</summary><ol class="releases" data-releases></ol></details>
    <details open><summary>Events</summary><ol class="events" data-events></ol></details>`;
  element.querySelector("[data-name]").textContent = short;
  for (const button of element.querySelectorAll("[data-action]")) button.addEventListener("click", () => steer(name, button.dataset.action));
  document.getElementById("canaries").append(element);
  entry = { card: element, status: null };
  state.canaries.set(name, entry);
  return entry;
}

const allowed = {
  promote: ["Progressing", "Paused"], pause: ["Progressing", "Promoting"], resume: ["Paused"], abort: ["Progressing", "Paused", "Promoting"],
};
const explain = {
  promote: "skip the remaining steps and send ALL traffic to the canary", pause: "hold the weights where they are",
  resume: "continue the rollout", abort: "roll back now: all traffic to the stable version",
};

async function steer(name, action) {
  if (!confirm(action[0].toUpperCase() + action.slice(1) + " canary " + name.split("/")[1] + "? This will " + explain[action] + ".")) return;
  const entry = card(name);
  const response = await api(path(name) + "/" + action, { method: "POST" });
  const body = await response.json().catch(() => ({}));
  entry.card.querySelector("[data-message]").textContent = response.ok ? action + ": done" : "error: " + (body.error || response.status);
  scheduleRefresh(name);
}

function render(name, status, metrics, events) {
  const entry = card(name);
  entry.status = status;
  const element = entry.card;
  const phase = element.querySelector("[data-phase]");
  phase.textContent = status.phase;
  phase.dataset.phase = status.phase;
  element.dataset.phase = status.phase;
  element.querySelector("[data-destinations]").textContent = "stable " + status.stable + " · canary " + status.canary;
  element.dataset.stable = status.stable;
  element.querySelector("[data-releases]").replaceChildren(...(status.releases || []).slice().reverse().map((release) =>
    $("li", { "data-outcome": release.outcome }, $("time", {}, clock(release.started)),
      $("span", {}, release.stable + " → " + release.canary + " "), $("b", {}, release.outcome),
      $("span", {}, release.reason ? ": " + release.reason : ""))));
  const bar = element.querySelector("[data-weights]");
  bar.dataset.canaryWeight = status.canaryWeight;
  bar.dataset.stableWeight = status.stableWeight;
  element.dataset.canaryWeight = status.canaryWeight;
  element.dataset.stableWeight = status.stableWeight;
  const stableBar = element.querySelector("[data-stable-bar]"), canaryBar = element.querySelector("[data-canary-bar]");
  stableBar.style.width = status.stableWeight + "%";
  canaryBar.style.width = status.canaryWeight + "%";
  stableBar.textContent = status.stableWeight ? "stable " + status.stableWeight + "%" : "";
  canaryBar.textContent = status.canaryWeight ? "canary " + status.canaryWeight + "%" : "";
  element.querySelector("[data-step]").textContent = (status.step || "–") + "/" + status.steps;
  element.querySelector("[data-failed-checks]").textContent = status.failedChecks + "/" + status.threshold;
  element.querySelector("[data-message]").textContent = status.message || "";
  const verdicts = element.querySelector("[data-verdicts]");
  verdicts.replaceChildren(...status.lastMeasurements.map((m) => {
    const verdict = m.verdict.split(":")[0];
    return $("li", { "data-verdict": verdict, "data-metric": m.metric }, m.metric + ": " + m.verdict
      + (m.canaryValue != null ? " (canary " + m.canaryValue.toFixed(2) + (m.stableValue != null ? ", stable " + m.stableValue.toFixed(2) : "") + ")" : ""));
  }));
  for (const button of element.querySelectorAll("[data-action]")) button.disabled = !allowed[button.dataset.action].includes(status.phase);
  if (metrics) renderCharts(element.querySelector("[data-charts]"), metrics, status);
  const list = element.querySelector("[data-events]");
  list.replaceChildren(...events.slice().reverse().map((event) =>
    $("li", { "data-severity": event.severity }, $("time", {}, clock(event.time)), $("span", {}, event.message))));
  tick();
}

function renderCharts(container, metrics, status) {
  const times = metrics.weights.map((p) => p.time).concat(...metrics.metrics.map((s) => s.points.map((p) => p.time)));
  const start = Math.min(...times, Date.now() / 1000), end = status.phase === "Succeeded" || status.phase === "Failed"
    ? Math.max(...times, start + 1) : Math.max(Date.now() / 1000, ...times, start + 1);
  const weights = metrics.weights.length ? metrics.weights.concat([{ time: end, canaryWeight: status.canaryWeight }]) : [];
  const charts = [{
    id: "weight", title: "canary weight %", unit: "percent", min: 0, max: 100,
    series: { canary: weights.map((p) => [p.time, p.canaryWeight]), stable: weights.map((p) => [p.time, 100 - p.canaryWeight]) }, step: true, marks: [],
  }].concat(metrics.metrics.map((series) => {
    const values = series.points.flatMap((p) => [p.canary, p.stable]).filter((v) => v != null);
    const bounds = [series.thresholdMin, series.thresholdMax].filter((v) => v != null);
    let min = Math.min(...values, ...bounds), max = Math.max(...values, ...bounds);
    if (series.unit === "percent") { max = 100; min = Math.min(min, 100) - 1; } else { min = 0; max = (max > 0 ? max : 1) * 1.15; }
    return {
      id: series.name, title: series.name + (series.unit === "ms" ? " p99 ms" : series.unit === "percent" ? " %" : ""), unit: series.unit, min, max,
      series: { canary: series.points.filter((p) => p.canary != null).map((p) => [p.time, p.canary]), stable: series.points.filter((p) => p.stable != null).map((p) => [p.time, p.stable]) },
      thresholds: bounds, marks: series.points.map((p) => ({ time: p.time, value: p.canary, verdict: p.verdict.split(":")[0], title: clock(p.time) + " " + p.verdict })),
    };
  }));
  container.replaceChildren(...charts.map((chart) => drawChart(chart, start, end)));
}

const W = 300, H = 130, PAD = 4;
function drawChart(chart, start, end) {
  const x = (t) => PAD + (t - start) / (end - start) * (W - 2 * PAD);
  const y = (v) => H - PAD - (Math.min(Math.max(v, chart.min), chart.max) - chart.min) / (chart.max - chart.min || 1) * (H - 2 * PAD);
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, "data-chart": chart.id, role: "img", "aria-label": chart.title });
  for (const [name, points] of Object.entries(chart.series)) {
    if (!points.length) continue;
    let d = "";
    points.forEach(([t, v], index) => {
      if (index === 0) d += `M${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      else d += (chart.step ? `H${x(t).toFixed(1)}V${y(v).toFixed(1)}` : `L${x(t).toFixed(1)},${y(v).toFixed(1)}`);
    });
    root.append(svg("path", { d, "data-series": name }));
  }
  for (const bound of chart.thresholds || []) {
    root.append(svg("line", { x1: PAD, x2: W - PAD, y1: y(bound), y2: y(bound), "data-threshold": bound }));
    const label = svg("text", { x: W - PAD - 2, y: y(bound) - 3, "text-anchor": "end" });
    label.textContent = number(bound, chart.unit);
    root.append(label);
  }
  for (const mark of chart.marks) {
    const circle = svg("circle", { cx: x(mark.time), cy: mark.value == null ? H - PAD : y(mark.value), r: 3, "data-verdict": mark.verdict });
    const title = svg("title");
    title.textContent = mark.title;
    circle.append(title);
    root.append(circle);
  }
  const top = svg("text", { x: PAD + 2, y: 11 });
  top.textContent = number(chart.max, chart.unit);
  root.append(top);
  return $("figure", {}, root, $("figcaption", {}, chart.title));
}

function tick() {
  for (const { card: element, status } of state.canaries.values()) {
    if (status) element.querySelector("[data-time-in-phase]").textContent = status.lastTransition ? since(status.lastTransition) : "–";
  }
}

function connect() {
  const indicator = document.getElementById("connection");
  const events = new EventSource("/events");
  events.onopen = () => { indicator.dataset.connection = "live"; indicator.textContent = "live"; loadAll(); };
  events.onerror = () => { indicator.dataset.connection = "reconnecting"; indicator.textContent = "reconnecting…"; };
  for (const type of ["rollout", "phase", "weights", "measurement"]) {
    events.addEventListener(type, (message) => {
      const data = JSON.parse(message.data);
      const name = key(data);
      if (state.canaries.has(name)) scheduleRefresh(name); else loadAll();
    });
  }
}

loadAll();
connect();
setInterval(tick, 1000);
// Without the event stream (a token on reads, a proxy that buffers) the page still follows, more slowly.
setInterval(() => { if (document.getElementById("connection").dataset.connection !== "live") loadAll(); }, 5000);
</script>
</body>
</html>

"""##
}

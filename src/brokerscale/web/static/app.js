// brokerscale dashboard: thin pages over /api/… . Charts arrive as plotly figures built by the server
// (the same ones `--plot` writes to files); this file only fetches, lays out and refreshes them.
"use strict";

const PAGE = document.body.dataset.page || "docs";
const REFRESH_MS = Number(document.body.dataset.refresh || 10000);
const state = { cluster: null, hours: 6, filters: {}, openGroup: null };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let i = 0; let v = Number(n);
  while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
  return `${v.toFixed(v >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}
function fmtNum(n, digits) {
  if (n === null || n === undefined) return "–";
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 1 : digits });
}
function fmtTime(ts) {
  if (!ts) return "–";
  return new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}
function badge(status) {
  return el("span", { class: `badge b-${String(status).toLowerCase()}` }, status);
}

async function api(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!r.ok) {
    let detail = `${r.status} ${r.statusText}`;
    try { const body = await r.json(); if (body.detail) detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail); } catch (e) { /* not JSON */ }
    throw new Error(`${path}: ${detail}`);
  }
  return r.json();
}

function banner(text) {
  const b = document.getElementById("banner");
  if (!b) return;
  b.hidden = !text;
  b.textContent = text || "";
}

// Charts wait for plotly.js (loaded async) without holding up the rest of the page.
let pendingCharts = [];
function plotlyReady() {
  const todo = pendingCharts;
  pendingCharts = [];
  todo.forEach((f) => f());
  if (todo.length && !performance.getEntriesByName("brokerscale:charts").length) performance.mark("brokerscale:charts");
}
let plotlyRequested = false;
function loadPlotly() {
  if (plotlyRequested) return;
  plotlyRequested = true;
  const tag = document.createElement("script");
  tag.src = "/static/plotly.min.js";
  tag.addEventListener("load", plotlyReady);
  tag.addEventListener("error", () => banner("could not load the chart library (/static/plotly.min.js)"));
  document.head.append(tag);
}

function chartBox(fig) {
  const box = el("div", { class: "chart-box" });
  const div = el("div", { class: "chart", id: `chart-${fig.id}`, "data-points": fig.points });
  box.append(div);
  if (fig.note) box.append(el("p", { class: "muted note" }, fig.note));
  const draw = () => {
    if (!div.isConnected) return; // replaced by a newer refresh before the library arrived
    window.Plotly.react(div, fig.data, fig.layout, { displaylogo: false, responsive: true });
  };
  return { box, draw: () => {
    if (window.Plotly) { draw(); if (!performance.getEntriesByName("brokerscale:charts").length) performance.mark("brokerscale:charts"); }
    else {
      pendingCharts.push(draw);
      if (performance.getEntriesByName("brokerscale:drawn").length) loadPlotly(); // later draws: no need to wait
    }
  } };
}

function render(nodes) {
  const content = document.getElementById("content");
  const charts = [];
  const parts = nodes.map((n) => {
    if (n && n.fig) { const c = chartBox(n.fig); charts.push(c); return c.box; }
    return n;
  });
  content.replaceChildren(...parts);
  charts.forEach((c) => c.draw());
  // The moment the page's data is on screen: the first-paint benchmark reads this mark. The chart library
  // is fetched only now, after a frame has been painted, so its parsing never delays the figures.
  if (!performance.getEntriesByName("brokerscale:drawn").length) {
    performance.mark("brokerscale:drawn");
    if (charts.length) requestAnimationFrame(() => setTimeout(loadPlotly, 0));
  }
  const u = document.getElementById("updated");
  if (u) u.textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
}

function table(headers, rows, rowAttrs) {
  return el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((r, i) => el("tr", rowAttrs ? rowAttrs(i) : {}, r.map((c) => el("td", {}, c))))));
}

async function clusterPicker(onChange) {
  const doc = await api("/api/clusters");
  if (!state.cluster) state.cluster = doc.clusters.length ? doc.clusters[0].cluster : null;
  const sel = el("select", { id: "cluster", onchange: (e) => { state.cluster = e.target.value; onChange(); } },
    doc.clusters.map((c) => el("option", { value: c.cluster }, c.cluster)));
  sel.value = state.cluster;
  return el("label", {}, "cluster ", sel);
}

// ---------------------------------------------------------------------------------------------- pages
const pages = {
  async overview() {
    const doc = await api("/api/overview");
    const nodes = [];
    for (const c of doc.clusters) {
      const head = el("div", { class: "cluster-head" },
        el("h2", {}, c.cluster), badge(c.status),
        el("span", { class: "muted" }, c.state === "live" ? `observed ${fmtTime(c.updated_at)}` : c.state));
      const card = el("section", { class: "card", id: `cluster-${c.cluster}` }, head);
      if (c.error) card.append(el("p", { class: "error" }, c.error));
      if (c.units) card.append(el("p", { class: "units" }, `${c.units.count} ${c.units.unit}${c.units.count === 1 ? "" : "s"} — ${c.units.description}`));
      if (c.snapshot) {
        const s = c.snapshot;
        card.append(el("p", { class: "muted" },
          `in ${fmtBytes(s.bytes_in_per_s)}/s · out ${fmtBytes(s.bytes_out_per_s)}/s · ${fmtNum(s.connections, 0)} connections · ` +
          `${fmtNum(s.partition_count, 0)} partitions · ${fmtBytes(s.retained_bytes)} retained · ${s.groups} consumer groups`));
      }
      if (c.utilization.length) {
        card.append(table(["dimension", "utilization", "warning", "critical", "status"],
          c.utilization.map((u) => [u.dimension, `${fmtNum(u.percent, 1)} %`, u.warning === null ? "–" : `${u.warning} %`,
            u.critical === null ? "–" : `${u.critical} %`, badge(u.status)]),
          (i) => ({ class: `util util-${c.utilization[i].status.toLowerCase()}`, "data-dimension": c.utilization[i].dimension })));
      }
      nodes.push(card);
      if (c.chart) nodes.push({ fig: c.chart });
      const fcard = el("section", { class: "card" }, el("h3", {}, `findings (${c.findings.length})`));
      if (c.findings.length) {
        fcard.append(table(["severity", "where", "what", "do"],
          c.findings.map((f) => [badge(f.severity.toUpperCase()), f.target.startsWith(f.scope) ? f.target : `${f.scope} ${f.target}`, f.message, f.action])));
      } else {
        fcard.append(el("p", { class: "muted" }, "no scaling trigger fires"));
      }
      fcard.append(el("p", { class: "autoscaler" }, el("strong", {}, "autoscaler: "), c.autoscaler.message));
      nodes.push(fcard);
    }
    render(nodes);
  },

  async timeline() {
    const picker = await clusterPicker(refresh);
    const range = el("select", { id: "range", onchange: (e) => { state.hours = Number(e.target.value); refresh(); } },
      [[1, "last hour"], [6, "last 6 hours"], [24, "last day"], [24 * 7, "last week"], [24 * 30, "last 30 days"]]
        .map(([h, t]) => el("option", { value: h }, t)));
    range.value = String(state.hours);
    const doc = await api(`/api/timeline?cluster=${encodeURIComponent(state.cluster)}&hours=${state.hours}`);
    const events = doc.events.length ? table(["when", "event"], doc.events.map((m) => [fmtTime(m.x), m.label]))
      : el("p", { class: "muted" }, "no scaling events or rebalances in this range");
    render([el("div", { class: "controls" }, picker, el("label", {}, " range ", range)),
      ...doc.charts.map((f) => ({ fig: f })), el("h3", {}, "events"), events]);
  },

  async lag() {
    const picker = await clusterPicker(refresh);
    const doc = await api(`/api/lag?cluster=${encodeURIComponent(state.cluster)}`);
    const nodes = [el("div", { class: "controls" }, picker)];
    if (doc.error) nodes.push(el("p", { class: "error" }, doc.error));
    if (doc.groups.length) {
      nodes.push(table(["group", "status", "lag (offsets)", "lag (seconds)", "members", "partitions", "why"],
        doc.groups.map((g) => [g.group, badge(g.status), fmtNum(g.lag_offsets, 0),
          g.max_lag_seconds === null ? "–" : fmtNum(g.max_lag_seconds, 1), fmtNum(g.members, 0), g.partitions, g.reason]),
        (i) => ({ class: "group-row clickable", "data-group": doc.groups[i].group,
          onclick: () => { state.openGroup = doc.groups[i].group; showPartitions(doc.cluster, doc.groups[i].group); } })));
    } else {
      nodes.push(el("p", { class: "muted" }, doc.taken_at ? "no consumer groups" : "waiting for the first observation"));
    }
    nodes.push(el("div", { id: "partitions" }));
    nodes.push(...doc.charts.map((f) => ({ fig: f })));
    render(nodes);
    if (state.openGroup && doc.groups.some((g) => g.group === state.openGroup)) showPartitions(doc.cluster, state.openGroup);
  },

  async storage() {
    const picker = await clusterPicker(refresh);
    const doc = await api(`/api/storage?cluster=${encodeURIComponent(state.cluster)}`);
    const f = doc.forecast;
    const summary = f.ok ? table(["now", "growth / day", "in 30 days", "in 90 days", "limit", "days to limit"],
      [[fmtBytes(f.current_bytes), fmtBytes(f.daily_growth_bytes), fmtBytes(f.projected_30d_bytes), fmtBytes(f.projected_90d_bytes),
        f.limit_label || "–", f.days_until_limit === null ? "–" : fmtNum(f.days_until_limit, 0)]])
      : el("p", { class: "muted" }, `no forecast: ${f.reason}`);
    render([el("div", { class: "controls" }, picker), summary,
      ...(f.ok && f.reason ? [el("p", { class: "muted" }, f.reason)] : []),
      ...f.advice.map((a) => el("p", { class: "advice" }, el("strong", {}, "recommendation: "), a)),
      { fig: doc.chart }]);
  },

  async rebalance() {
    const picker = await clusterPicker(refresh);
    const doc = await api(`/api/rebalance?cluster=${encodeURIComponent(state.cluster)}`);
    if (!doc.run) { render([el("div", { class: "controls" }, picker), el("p", { class: "muted" }, doc.message)]); return; }
    const r = doc.run;
    const pct = r.total ? Math.round((100 * r.completed) / r.total) : 100;
    const bpct = r.bytes_total ? Math.round((100 * r.bytes_done) / r.bytes_total) : 100;
    render([el("div", { class: "controls" }, picker),
      el("p", {}, `run ${r.plan_id}: `, badge(r.status.toUpperCase()), ` ${r.message || ""}`),
      el("div", { class: "progress-label" }, `${r.completed} of ${r.total} partitions`),
      el("progress", { max: 100, value: pct }),
      el("div", { class: "progress-label" }, `${fmtBytes(r.bytes_done)} of ${fmtBytes(r.bytes_total)} copied`),
      el("progress", { max: 100, value: bpct }),
      table(["broker", "replicas before", "after", "leaders before", "after", "bytes before", "after"],
        doc.brokers.map((b) => [b.broker, b.replicas_before, b.replicas_after, b.leaders_before, b.leaders_after,
          fmtBytes(b.bytes_before), fmtBytes(b.bytes_after)])),
      { fig: doc.chart },
      table(["partition", "from", "to", "bytes", "done"],
        doc.partitions.map((p) => [p.partition, p.from.join(","), p.to.join(","), fmtBytes(p.bytes), p.done ? "✓" : "…"]))]);
  },

  async simulator() {
    const doc = await api("/api/simulator");
    if (!doc.available) { render([el("p", { class: "not-available" }, doc.message)]); return; }
    const trace = el("select", { id: "sim-trace" }, doc.traces.map((t) => el("option", { value: t }, t)),
      el("option", { value: "" }, "upload a trace…"));
    const upload = el("input", { id: "sim-upload", type: "file", accept: ".csv,text/csv" });
    const boxes = doc.policies.map((p) => el("label", {}, el("input", { type: "checkbox", class: "sim-policy", value: p,
      checked: ["default", "seed-reactive"].includes(p) ? "checked" : null }), ` ${p}`));
    const policyFile = el("input", { id: "sim-policy-file", type: "file", accept: ".yaml,.yml" });
    const result = el("div", { id: "sim-result" });
    const go = async (e) => {
      e.preventDefault();
      result.replaceChildren(el("p", { class: "muted" }, "simulating…"));
      try {
        const body = { policies: boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value) };
        if (trace.value) body.trace = trace.value;
        else if (upload.files.length) body.trace_csv = await upload.files[0].text();
        if (policyFile.files.length) body.policy_yaml = await policyFile.files[0].text();
        const r = await fetch("/api/simulator/run", { method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body) });
        const out = await r.json();
        if (!r.ok) throw new Error(typeof out.detail === "string" ? out.detail : JSON.stringify(out.detail));
        const c = chartBox(out.chart);
        result.replaceChildren(
          el("p", { class: "muted" }, `${out.trace}: ${fmtNum(out.steps, 0)} steps of ${out.step_s} s, ${out.capacity}`),
          table(["policy", `${out.unit}-hours`, "vs oracle", "critical min", "warning min", "actions"],
            out.rows.map((x) => [x.policy, fmtNum(x.unit_hours, 1), x.vs_oracle === null ? "–" : `${x.vs_oracle.toFixed(3)}x`,
              fmtNum(x.critical_minutes, 0), fmtNum(x.warning_minutes, 0), fmtNum(x.actions, 0)]),
            (i) => ({ class: `sim-row${out.rows[i].policy === "oracle" ? " muted" : ""}`, "data-policy": out.rows[i].policy })),
          c.box);
        c.draw();
      } catch (err) {
        result.replaceChildren(el("p", { class: "error" }, err.message));
      }
    };
    render([el("form", { class: "controls", id: "sim-form", onsubmit: go },
      el("label", {}, "trace ", trace), upload, ...boxes, el("label", {}, "policy file ", policyFile),
      el("button", { type: "submit", id: "sim-run" }, "compare")), result]);
  },
  async dr() {
    const doc = await api("/api/dr");
    if (!doc.available) { await notYet("/api/dr"); return; }
    const secs = (v, lb) => (v === null || v === undefined ? "–" : `${fmtNum(v, 1)}${lb ? "+" : ""}`);
    const parts = [];
    for (const f of doc.flows) {
      parts.push(el("h3", { class: "dr-flow" }, `${f.flow}: ${f.source} → ${f.target} — ${f.state}`));
      parts.push(el("p", {}, `lag ${fmtNum(f.lag_records, 0)} records, ${secs(f.lag_seconds)} s; ` +
        `${f.records_per_s === null ? "–" : fmtNum(f.records_per_s, 0)} records/s, ` +
        `${f.bytes_per_s === null ? "–" : fmtNum(f.bytes_per_s, 0)} B/s replicated`));
      parts.push(table(["topic", "on target", "partitions", "lag records", "lag (s)", "records/s", "bytes/s"],
        f.topics.map((t) => [t.topic, t.remote_topic, String(t.partitions), fmtNum(t.lag_records, 0),
          secs(t.lag_seconds, t.lower_bound), t.records_per_s === null ? "–" : fmtNum(t.records_per_s, 0),
          t.bytes_per_s === null ? "–" : fmtNum(t.bytes_per_s, 0)])));
      if (f.groups.length) {
        parts.push(table(["group", "partitions", "committed on source", "checkpointed", "checkpoint lag"],
          f.groups.map((g) => [g.group, String(g.partitions), fmtNum(g.committed_source, 0), fmtNum(g.checkpointed, 0),
            fmtNum(g.lag_records, 0)])));
      }
      for (const r of f.refused_topics) parts.push(el("p", { class: "dr-refused" }, `refused: ${r.reason}`));
      for (const n of f.notes) parts.push(el("p", {}, `note: ${n}`));
    }
    for (const fo of doc.failovers) {
      parts.push(el("p", { class: "dr-failover" }, `last failover of ${fo.flow}: ${fo.target} took over; RPO ` +
        `${fmtNum(fo.rpo_records, 0)} records, ${secs(fo.rpo_seconds, !fo.rpo_exact)} s; RTO ${fmtNum(fo.rto_seconds, 1)} s; ` +
        `bootstrap ${fo.bootstrap}`));
    }
    render(parts);
  },

  async audit() {
    const f = state.filters;
    const q = new URLSearchParams();
    if (f.action) q.set("action", f.action);
    if (f.result) q.set("result", f.result);
    if (f.hours) q.set("since", String(Date.now() / 1000 - Number(f.hours) * 3600));
    const doc = await api(`/api/audit?${q}`);
    const action = el("input", { id: "f-action", placeholder: "action prefix, e.g. topics.", value: f.action || "" });
    const result = el("select", { id: "f-result" }, ["", "ok", "error", "pending", "interrupted"].map((v) => el("option", { value: v }, v || "any result")));
    result.value = f.result || "";
    const hours = el("select", { id: "f-hours" }, [["", "any time"], ["1", "last hour"], ["24", "last day"], ["168", "last week"]]
      .map(([v, t]) => el("option", { value: v }, t)));
    hours.value = f.hours || "";
    const apply = () => { state.filters = { action: action.value.trim(), result: result.value, hours: hours.value }; refresh(); };
    const short = (o) => (o === null || o === undefined ? "" : JSON.stringify(o).slice(0, 120));
    render([el("form", { class: "controls", "data-shown-result": f.result || "", onsubmit: (e) => { e.preventDefault(); apply(); } }, action, result, hours,
      el("button", { type: "submit" }, "filter")),
    doc.records.length ? table(["when", "action", "target", "who", "intent", "before → after", "result"],
      doc.records.map((r) => [fmtTime(r.ts), r.action, r.target, r.actor, short(r.intent),
        `${short(r.before)} → ${short(r.after)}`, el("span", {}, badge(r.result.toUpperCase()), r.error ? ` ${r.error}` : "")]),
      (i) => ({ class: `audit-row result-${doc.records[i].result}` }))
      : el("p", { class: "muted" }, "no audit records match")]);
  },
};

async function notYet(path) {
  const doc = await api(path);
  render([el("p", { class: "not-available" }, doc.message)]);
}

async function showPartitions(cluster, group) {
  const box = document.getElementById("partitions");
  if (!box) return;
  try {
    const g = await api(`/api/lag/${encodeURIComponent(cluster)}/${encodeURIComponent(group)}`);
    box.replaceChildren(el("h3", {}, `${g.group}: partitions`),
      table(["partition", "committed", "log end", "lag", "seconds", "status", "why"],
        g.partitions.map((p) => [`${p.topic}-${p.partition}`, fmtNum(p.committed_offset, 0), fmtNum(p.log_end_offset, 0),
          fmtNum(p.lag_offsets, 0), p.lag_seconds === null ? "–" : `${fmtNum(p.lag_seconds, 1)}${p.lag_seconds_lower_bound ? "+" : ""}`,
          badge(p.status), p.reason])));
  } catch (e) {
    box.replaceChildren(el("p", { class: "error" }, e.message));
  }
}

async function docs() {
  const box = document.getElementById("endpoints");
  const spec = await api("/api/openapi.json");
  const rows = [];
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const params = (op.parameters || []).map((p) => p.name).join(", ");
      rows.push([method.toUpperCase(), path, params, op.description || op.summary || ""]);
    }
  }
  box.replaceChildren(table(["method", "path", "parameters", "what"], rows));
}

// One load at a time; a refresh asked for during a load (the user's filter while the timer's load is out)
// runs when it ends, so what the user asked for is never dropped or drawn over by an older answer.
let busy = false;
let again = false;
async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  try {
    if (PAGE === "docs") await docs();
    else await pages[PAGE]();
    banner("");
  } catch (e) {
    banner(`could not load: ${e.message}`);
  } finally {
    busy = false;
    if (again) { again = false; refresh(); }
  }
}

refresh();
if (PAGE !== "docs" && PAGE !== "simulator" && PAGE !== "dr") { // the simulator runs on demand only
  setInterval(() => {
    const active = document.activeElement;
    if (active && (active.tagName === "INPUT" || active.tagName === "SELECT")) return; // do not redraw under the user
    refresh();
  }, REFRESH_MS);
}

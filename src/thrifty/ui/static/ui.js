// thrifty ui: sortable/filterable tables, SVG line charts, and the run page's live stream.
// Plain DOM code, no library: the page works offline and the server's CSP allows no inline script.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

// A tick label with as many digits as the axis' step needs (ticks 1e-4 apart on 5.72 show 5.7204).
function fmt(v, step) {
  if (!isFinite(v)) return "";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(step && a ? Math.max(1, Math.ceil(Math.log10(a / step))) : 1);
  const decimals = step ? Math.min(8, Math.max(0, -Math.floor(Math.log10(step)))) : 2;
  return v.toFixed(decimals);
}

// series: [{name, points: [[x, y], ...], dots?: bool, labels?: [..]}]; draws axes, ticks, lines, legend.
function drawChart(svg, series, opts = {}) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const [W, H] = svg.getAttribute("viewBox").split(" ").slice(2).map(Number);
  const m = { l: 64, r: 40, t: 10, b: 26 };
  const all = series.flatMap((s) => s.points).filter((p) => isFinite(p[0]) && isFinite(p[1]));
  if (!all.length) {
    el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, svg).textContent = "no points yet";
    return;
  }
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { const d = Math.abs(y0) * 0.05 || 1; y0 -= d; y1 += d; }
  const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
  if (Math.min(...all.map((p) => p[1])) >= 0 && y0 < 0) y0 = 0; // no negative axis for positive data
  const X = (x) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (y) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  el("rect", { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, class: "plot" }, svg);
  const xs = ticks(x0, x1), ys = ticks(y0, y1);
  ys.values.forEach((yv) => {
    el("line", { x1: m.l, x2: W - m.r, y1: Y(yv), y2: Y(yv), class: "grid" }, svg);
    el("text", { x: m.l - 4, y: Y(yv) + 4, "text-anchor": "end", class: "tick" }, svg).textContent = fmt(yv, ys.step);
  });
  xs.values.forEach((xv) => {
    el("text", { x: X(xv), y: H - 8, "text-anchor": "middle", class: "tick" }, svg).textContent = fmt(xv, xs.step);
  });
  series.forEach((s, i) => {
    const color = s.color || COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => isFinite(p[0]) && isFinite(p[1]));
    if (!s.dots && pts.length > 1) {
      el("polyline", { points: pts.map((p) => `${X(p[0])},${Y(p[1])}`).join(" "), stroke: color,
        fill: "none", "stroke-width": 2, class: "series", "data-name": s.name }, svg);
    }
    pts.forEach((p, j) => {
      el("circle", { cx: X(p[0]), cy: Y(p[1]), r: s.dots ? 5 : 2.5, fill: color, class: s.dots ? "point dot" : "point" }, svg);
      if (s.labels) el("text", { x: X(p[0]) + 7, y: Y(p[1]) - 7, class: "label" }, svg).textContent = s.labels[j];
    });
    el("text", { x: W - m.r - 4, y: m.t + 14 + 14 * i, "text-anchor": "end", fill: color, class: "legend" }, svg)
      .textContent = s.name;
  });
}

// About five ticks at a round step (1, 2 or 5 times a power of ten) inside [lo, hi].
function ticks(lo, hi) {
  const raw = (hi - lo) / 5, power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= raw);
  const values = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) values.push(+v.toPrecision(12));
  return { step, values };
}

function readData(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

// --- tables -----------------------------------------------------------------------------------------
function cellValue(td) {
  const raw = td.dataset.v !== undefined ? td.dataset.v : td.textContent.trim();
  const n = parseFloat(raw);
  return raw !== "" && raw !== "None" && !isNaN(n) && isFinite(raw) ? n : raw.toLowerCase();
}

function makeSortable(table) {
  table.querySelectorAll("thead th").forEach((th, col) => {
    th.addEventListener("click", () => {
      const body = table.tBodies[0];
      const dir = th.dataset.dir === "asc" ? "desc" : "asc";
      table.querySelectorAll("thead th").forEach((h) => delete h.dataset.dir);
      th.dataset.dir = dir;
      const rows = Array.from(body.rows).filter((r) => r.cells.length > col);
      rows.sort((a, b) => {
        const [x, y] = [cellValue(a.cells[col]), cellValue(b.cells[col])];
        const c = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : typeof x === "number" ? -1 : 1;
        return dir === "asc" ? c : -c;
      });
      rows.forEach((r) => body.appendChild(r));
    });
  });
}

function makeFilter(input) {
  const table = document.getElementById(input.dataset.filters);
  input.addEventListener("input", () => {
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    Array.from(table.tBodies[0].rows).forEach((r) => {
      const text = r.textContent.toLowerCase();
      r.hidden = !words.every((w) => text.includes(w));
    });
  });
}

// --- run page ---------------------------------------------------------------------------------------
function runPage(data) {
  const series = data.series;
  const redraw = () => {
    drawChart(document.getElementById("chart-loss"), [
      { name: "loss", points: series.loss },
      { name: "eval loss", points: series.eval_loss, color: COLORS[1] },
    ]);
    drawChart(document.getElementById("chart-lr"), [{ name: "learning rate", points: series.learning_rate }]);
    drawChart(document.getElementById("chart-speed"), [{ name: "tokens/s", points: series.tokens_per_second }]);
    document.getElementById("loss-points").textContent = series.loss.length;
  };
  redraw();
  const source = new EventSource("/stream?path=" + encodeURIComponent(data.path));
  let first = true; // the stream starts by replaying the file: drop what the page already drew
  source.addEventListener("metric", (e) => {
    if (first) { for (const k in series) series[k] = []; first = false; }
    const row = JSON.parse(e.data);
    for (const k in series) if (typeof row[k] === "number") series[k].push([row.step, row[k]]);
    if (typeof row.step === "number") {
      document.getElementById("steps").textContent = String(row.step);
    }
    redraw();
  });
  source.addEventListener("reset", () => { for (const k in series) series[k] = []; first = false; redraw(); });
  source.addEventListener("status", (e) => {
    const s = JSON.parse(e.data);
    const badge = document.getElementById("status");
    badge.textContent = s.status + (s.resumable && s.status !== "running" ? " · resumable" : "");
    badge.className = "status " + s.status;
    document.getElementById("status-detail").textContent = s.detail;
    document.getElementById("stop-form").hidden = s.status !== "running";
    document.getElementById("resume-form").hidden = !(s.resumable && s.status !== "running");
    for (const [k, v] of Object.entries(s.facts || {})) {
      const cell = document.getElementById("fact-" + k);
      if (cell && v !== null && v !== undefined) cell.textContent = String(v);
    }
    document.body.dataset.status = s.status;
  });
}

function comparePage(data) {
  const curves = Object.entries(data.curves).map(([name, points]) => ({ name, points }));
  drawChart(document.getElementById("chart-curves"), curves);
  const front = data.points.filter((p) => p.front).sort((a, b) => a.x - b.x);
  drawChart(document.getElementById("chart-frontier"), [
    { name: "frontier", points: front.map((p) => [p.x, p.y]), color: COLORS[2] },
    { name: "strategies", points: data.points.map((p) => [p.x, p.y]), dots: true, labels: data.points.map((p) => p.name) },
  ]);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.sortable").forEach(makeSortable);
  document.querySelectorAll("input[data-filters]").forEach(makeFilter);
  document.querySelectorAll("select[data-autosubmit]").forEach((s) => s.addEventListener("change", () => s.form.submit()));
  const run = readData("run-data");
  if (run) runPage(run);
  const cmp = readData("compare-data");
  if (cmp) comparePage(cmp);
});

// A self-contained HTML page for one or more flood reports: a summary table, and for each
// scenario five inline SVG charts with every peer on the same axes. No scripts, fonts, CSS
// files or images are loaded, so the page works opened straight from disk or as a CI artifact.

import type { FloodReport } from './report-types.js';

type ChartKind = 'emit-latency' | 'throughput' | 'ring-fill' | 'drops' | 'rss';

// ---------------------------------------------------------------------------------------------
// Text and numbers

/** Escapes text for both element content and double- or single-quoted attribute values. */
function esc(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const intFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A table number: thousands separators for big values, about three significant digits for small. */
function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 100 || a === 0) return intFormat.format(v);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

function fmtInt(v: number): string {
  return Number.isFinite(v) ? intFormat.format(v) : '—';
}

/** A tick label: 1.5k, 20k, 3M; fractions keep only the digits the tick step needs. */
function fmtTick(v: number, step: number): string {
  const a = Math.abs(v);
  const [unit, suffix] = a >= 1e6 ? [1e6, 'M'] : a >= 1e3 ? [1e3, 'k'] : [1, ''];
  const decimals = Math.max(0, Math.min(6, Math.ceil(-Math.log10(step / unit) - 1e-9)));
  return `${trimZeros((v / unit).toFixed(decimals))}${suffix}`;
}

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** SVG coordinates: one decimal is sub-pixel and keeps the page small. */
function px(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

// ---------------------------------------------------------------------------------------------
// Scales

interface Tick {
  v: number;
  label: string;
}

/** Maps data values to pixels, and says where its ticks go. */
interface Scale {
  map(v: number): number;
  ticks: Tick[];
}

/** A step of 1, 2 or 5 × 10^k giving roughly `count` intervals over `span`. */
function niceStep(span: number, count: number): number {
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

/**
 * A linear scale from `lo` to `hi` rounded out to nice ticks. A zero-width domain (one point, or
 * all zeros) is widened, because a scale must never divide by zero.
 */
function linearScale(lo: number, hi: number, r0: number, r1: number, tickCount = 5): Scale {
  if (hi <= lo) hi = lo === 0 ? 1 : lo + Math.abs(lo);
  const step = niceStep(hi - lo, tickCount);
  const d0 = Math.floor(lo / step + 1e-9) * step;
  const d1 = Math.ceil(hi / step - 1e-9) * step;
  const ticks: Tick[] = [];
  for (let i = 0; d0 + i * step <= d1 + step * 1e-9; i++) {
    const v = d0 + i * step;
    ticks.push({ v, label: fmtTick(v, step) });
  }
  return { map: (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0), ticks };
}

/**
 * A log scale spanning whole decades around [lo, hi]. Values at or below `floor` (zeros included)
 * are drawn at the floor, because log(0) has nowhere to go.
 */
function logScale(lo: number, hi: number, floor: number, r0: number, r1: number): Scale {
  const e0 = Math.floor(Math.log10(Math.max(lo, floor)) + 1e-9);
  let e1 = Math.ceil(Math.log10(Math.max(hi, floor)) - 1e-9);
  if (e1 <= e0) e1 = e0 + 1;
  const ticks: Tick[] = [];
  // With few decades, 2× and 5× ticks keep the axis readable; with many they would crowd it.
  const mantissas = e1 - e0 <= 2 ? [1, 2, 5] : [1];
  for (let e = e0; e <= e1; e++) {
    for (const m of mantissas) {
      const v = m * 10 ** e;
      if (e === e1 && m > 1) break;
      ticks.push({ v, label: fmtTick(v, v) });
    }
  }
  const map = (v: number): number => {
    const t = (Math.log10(Math.max(v, floor)) - e0) / (e1 - e0);
    return r0 + t * (r1 - r0);
  };
  return { map, ticks };
}

/** How many nines a percentile has: 90 → 1, 99 → 2, 99.9 → 3 (the latency chart's x). */
function nines(p: number): number {
  return -Math.log10(1 - p / 100);
}

/**
 * The latency chart's x scale: percentiles in nines, with the maximum (p = 100, infinitely many
 * nines) drawn one decade after the highest finite percentile any peer reported.
 */
function ninesScale(minX: number, maxX: number, r0: number, r1: number): Scale {
  const labels: Array<[number, string]> = [
    [0, '0'], [nines(50), '50'], [1, '90'], [2, '99'], [3, '99.9'], [4, '99.99'], [5, '99.999'], [6, '99.9999'],
  ];
  const ticks: Tick[] = labels.filter(([v]) => v >= minX - 1e-9 && v < maxX - 1e-6).map(([v, label]) => ({ v, label }));
  ticks.push({ v: maxX, label: 'max' });
  const span = maxX - minX || 1;
  return { map: (v) => r0 + ((v - minX) / span) * (r1 - r0), ticks };
}

// ---------------------------------------------------------------------------------------------
// Chart model

/** Colour-blind-safe (Okabe–Ito, without the yellow that vanishes on white). */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];

interface Line {
  peer: string;
  color: string;
  /** Which of the peer's series this is, for tests and tooltips ("acked/s"). */
  series: string;
  dashed: boolean;
  points: Array<[number, number]>;
}

interface LegendItem {
  label: string;
  color: string;
  dashed: boolean;
  /** Peer entries are marked so tests (and readers of the markup) can tell them from style keys. */
  isPeer: boolean;
}

interface ChartSpec {
  kind: ChartKind;
  title: string;
  scenario: string;
  xTitle: string;
  yTitle: string;
  lines: Line[];
  legend: LegendItem[];
  makeX(lo: number, hi: number, r0: number, r1: number): Scale;
  makeY(lo: number, hi: number, r0: number, r1: number): Scale;
}

/** Pairs two arrays into points, skipping NaN and ±Infinity, which have no place on a chart. */
function finitePoints(xs: readonly number[], ys: readonly number[], scaleY = 1): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const n = Math.min(xs.length, ys.length);
  for (let i = 0; i < n; i++) {
    const x = xs[i]!;
    const y = ys[i]! * scaleY;
    if (Number.isFinite(x) && Number.isFinite(y)) out.push([x, y]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// SVG drawing

const W = 540;
const PLOT_H = 210;
const M = { left: 62, right: 18, top: 34 };
const LEGEND_ROW = 18;
/** Average width of a 12 px sans-serif character; only used to flow the legend. */
const CHAR_W = 7;

function svgText(x: number, y: number, text: string, attrs = ''): string {
  return `<text x="${px(x)}" y="${px(y)}"${attrs ? ' ' + attrs : ''}>${esc(text)}</text>`;
}

/** Gridlines, tick marks and labels on both axes, and the axis titles. */
function axes(xs: Scale, ys: Scale, box: { x0: number; x1: number; y0: number; y1: number }, xTitle: string, yTitle: string): string {
  const parts: string[] = [];
  for (const t of ys.ticks) {
    const y = ys.map(t.v);
    parts.push(`<line class="grid" x1="${px(box.x0)}" x2="${px(box.x1)}" y1="${px(y)}" y2="${px(y)}"/>`);
    parts.push(svgText(box.x0 - 6, y + 4, t.label, 'text-anchor="end"'));
  }
  for (const t of xs.ticks) {
    const x = xs.map(t.v);
    parts.push(`<line class="grid" x1="${px(x)}" x2="${px(x)}" y1="${px(box.y0)}" y2="${px(box.y1)}"/>`);
    parts.push(svgText(x, box.y1 + 16, t.label, 'text-anchor="middle"'));
  }
  parts.push(`<path class="axis" d="M${px(box.x0)},${px(box.y0)}V${px(box.y1)}H${px(box.x1)}"/>`);
  parts.push(svgText((box.x0 + box.x1) / 2, box.y1 + 34, xTitle, 'class="axis-title" text-anchor="middle"'));
  const yMid = (box.y0 + box.y1) / 2;
  parts.push(svgText(14, yMid, yTitle, `class="axis-title" text-anchor="middle" transform="rotate(-90 14 ${px(yMid)})"`));
  return parts.join('');
}

/** One series as a polyline; a lone point gets a dot, since a one-point polyline draws nothing. */
function seriesPath(line: Line, xs: Scale, ys: Scale): string {
  if (line.points.length === 0) return '';
  const pts = line.points.map(([x, y]) => `${px(xs.map(x))},${px(ys.map(y))}`).join(' ');
  const dash = line.dashed ? ' stroke-dasharray="6 4"' : '';
  const tip = `<title>${esc(`${line.peer} — ${line.series}`)}</title>`;
  const meta = `data-peer="${esc(line.peer)}" data-series="${esc(line.series)}"`;
  let out = `<polyline class="series" ${meta} points="${pts}" stroke="${line.color}"${dash}>${tip}</polyline>`;
  if (line.points.length === 1) {
    const [x, y] = line.points[0]!;
    out += `<circle cx="${px(xs.map(x))}" cy="${px(ys.map(y))}" r="3" fill="${line.color}"/>`;
  }
  return out;
}

/** Lays legend entries out left to right, wrapping to a new row when one would overflow. */
function legendLayout(items: readonly LegendItem[], x0: number, width: number): Array<{ item: LegendItem; x: number; row: number }> {
  const out: Array<{ item: LegendItem; x: number; row: number }> = [];
  let x = x0;
  let row = 0;
  for (const item of items) {
    const w = 30 + item.label.length * CHAR_W + 16;
    if (x > x0 && x + w > x0 + width) {
      row++;
      x = x0;
    }
    out.push({ item, x, row });
    x += w;
  }
  return out;
}

function legend(items: readonly LegendItem[], x0: number, y0: number, width: number): { svg: string; rows: number } {
  const placed = legendLayout(items, x0, width);
  const svg = placed
    .map(({ item, x, row }) => {
      const y = y0 + row * LEGEND_ROW;
      const dash = item.dashed ? ' stroke-dasharray="6 4"' : '';
      return (
        `<g class="legend-item" data-legend="${item.isPeer ? 'peer' : 'style'}">` +
        `<line x1="${px(x)}" x2="${px(x + 24)}" y1="${px(y - 4)}" y2="${px(y - 4)}" stroke="${item.color}" stroke-width="2.5"${dash}/>` +
        svgText(x + 30, y, item.label) +
        '</g>'
      );
    })
    .join('');
  const rows = placed.length === 0 ? 0 : placed[placed.length - 1]!.row + 1;
  return { svg, rows };
}

/** Data extent over every line, or undefined when there is no point at all. */
function extent(lines: readonly Line[], axis: 0 | 1): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const l of lines) for (const p of l.points) {
    lo = Math.min(lo, p[axis]);
    hi = Math.max(hi, p[axis]);
  }
  return lo <= hi ? [lo, hi] : undefined;
}

function renderChart(spec: ChartSpec): string {
  const box = { x0: M.left, x1: W - M.right, y0: M.top, y1: M.top + PLOT_H };
  const leg = legend(spec.legend, box.x0, box.y1 + 58, box.x1 - box.x0);
  const height = box.y1 + 48 + leg.rows * LEGEND_ROW + 8;
  const label = `${spec.title} — ${spec.scenario}`;
  const xe = extent(spec.lines, 0);
  const ye = extent(spec.lines, 1);
  const xs = spec.makeX(xe?.[0] ?? 0, xe?.[1] ?? 1, box.x0, box.x1);
  const ys = spec.makeY(ye?.[0] ?? 0, ye?.[1] ?? 1, box.y1, box.y0);
  const body = xe
    ? spec.lines.map((l) => seriesPath(l, xs, ys)).join('')
    : svgText((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2, 'no data', 'class="empty" text-anchor="middle"');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${spec.kind}" role="img" aria-label="${esc(label)}" ` +
    `viewBox="0 0 ${W} ${px(height)}" width="${W}" height="${px(height)}">` +
    `<title>${esc(label)}</title>` +
    svgText(box.x0, 20, spec.title, 'class="chart-title"') +
    axes(xs, ys, box, spec.xTitle, spec.yTitle) +
    body +
    leg.svg +
    '</svg>'
  );
}

// ---------------------------------------------------------------------------------------------
// The five charts of a scenario

function peerLegend(reports: readonly FloodReport[], color: (peer: string) => string): LegendItem[] {
  return reports.map((r) => ({ label: r.peer, color: color(r.peer), dashed: false, isPeer: true }));
}

/** A time-series chart with one line per peer over a linear y axis from zero. */
function timeChart(
  kind: ChartKind, title: string, yTitle: string, scenario: string, reports: readonly FloodReport[],
  color: (peer: string) => string, pick: (r: FloodReport) => readonly number[], yScale = 1, yMax?: number,
): ChartSpec {
  const lines = reports.map((r) => ({
    peer: r.peer, color: color(r.peer), series: kind, dashed: false,
    points: clampY(finitePoints(r.series.tSec, pick(r), yScale), yMax),
  }));
  return {
    kind, title, scenario, xTitle: 'time (s)', yTitle, lines, legend: peerLegend(reports, color),
    makeX: (lo, hi, r0, r1) => linearScale(Math.min(0, lo), hi, r0, r1, 6),
    makeY: (lo, hi, r0, r1) => linearScale(Math.min(0, lo), yMax ?? Math.max(hi, 0), r0, r1),
  };
}

/** Keeps points inside a fixed y domain (ring fill is 0..100 % by definition). */
function clampY(points: Array<[number, number]>, yMax: number | undefined): Array<[number, number]> {
  return yMax === undefined ? points : points.map(([x, y]) => [x, Math.min(Math.max(y, 0), yMax)]);
}

function latencyChart(scenario: string, reports: readonly FloodReport[], color: (peer: string) => string): ChartSpec {
  const FLOOR_US = 0.1;
  // The max is drawn one decade past the most nines any peer reported, so it stays distinct.
  let most = 0;
  for (const r of reports) for (const [p, us] of r.emitDistribution) {
    if (Number.isFinite(p) && Number.isFinite(us) && p < 100) most = Math.max(most, Math.min(nines(Math.max(p, 0)), 6));
  }
  const maxX = Math.floor(most + 1e-6) + 1;
  const lines = reports.map((r) => ({
    peer: r.peer, color: color(r.peer), series: 'emit µs', dashed: false,
    points: r.emitDistribution
      .filter(([p, us]) => Number.isFinite(p) && Number.isFinite(us))
      .map(([p, us]): [number, number] => [p >= 100 ? maxX : Math.min(nines(Math.max(p, 0)), maxX), us]),
  }));
  return {
    kind: 'emit-latency', title: 'emit() latency by percentile', scenario,
    xTitle: 'percentile (log scale of nines)', yTitle: 'emit() µs (log)', lines, legend: peerLegend(reports, color),
    makeX: (lo, _hi, r0, r1) => ninesScale(Math.max(0, Math.min(lo, nines(50))), maxX, r0, r1),
    makeY: (lo, hi, r0, r1) => logScale(lo, hi, FLOOR_US, r0, r1),
  };
}

function throughputChart(scenario: string, reports: readonly FloodReport[], color: (peer: string) => string): ChartSpec {
  const lines: Line[] = reports.flatMap((r) => [
    { peer: r.peer, color: color(r.peer), series: 'acked/s', dashed: false, points: finitePoints(r.series.tSec, r.series.ackedPerSec) },
    { peer: r.peer, color: color(r.peer), series: 'emitted/s', dashed: true, points: finitePoints(r.series.tSec, r.series.emittedPerSec) },
  ]);
  const styleKey: LegendItem[] = [
    { label: 'acked/s', color: '#555', dashed: false, isPeer: false },
    { label: 'emitted/s', color: '#555', dashed: true, isPeer: false },
  ];
  return {
    kind: 'throughput', title: 'Throughput over time', scenario, xTitle: 'time (s)', yTitle: 'alerts/s',
    lines, legend: [...peerLegend(reports, color), ...styleKey],
    makeX: (lo, hi, r0, r1) => linearScale(Math.min(0, lo), hi, r0, r1, 6),
    makeY: (lo, hi, r0, r1) => linearScale(Math.min(0, lo), Math.max(hi, 0), r0, r1),
  };
}

function scenarioCharts(scenario: string, reports: readonly FloodReport[], color: (peer: string) => string): string[] {
  const specs = [
    latencyChart(scenario, reports, color),
    throughputChart(scenario, reports, color),
    timeChart('ring-fill', 'Buffer (ring) fill', 'fill %', scenario, reports, color, (r) => r.series.ringFill, 100, 100),
    timeChart('drops', 'Drops per second', 'dropped/s', scenario, reports, color, (r) => r.series.droppedPerSec),
    timeChart('rss', 'Resident memory (RSS)', 'RSS MB', scenario, reports, color, (r) => r.series.rssMB),
  ];
  return specs.map(renderChart);
}

// ---------------------------------------------------------------------------------------------
// The page

/** A summary column; columns sharing a `group` get one spanning header above their `sub` headers. */
interface Column {
  group: string;
  sub?: string;
  cell(r: FloodReport): string;
}

const COLUMNS: Column[] = [
  { group: 'emitted', cell: (r) => fmtInt(r.emitted) },
  { group: 'acked', cell: (r) => fmtInt(r.acked) },
  { group: 'dropped', cell: (r) => fmtInt(r.dropped) },
  { group: 'throughput /s', cell: (r) => fmtInt(r.throughputPerSec) },
  { group: 'emit() µs', sub: 'p50', cell: (r) => fmtNum(r.emitUs.p50) },
  { group: 'emit() µs', sub: 'p99', cell: (r) => fmtNum(r.emitUs.p99) },
  { group: 'emit() µs', sub: 'p99.9', cell: (r) => fmtNum(r.emitUs.p999) },
  { group: 'emit() µs', sub: 'max', cell: (r) => fmtNum(r.emitUs.max) },
  { group: 'event-loop delay ms', sub: 'p99', cell: (r) => fmtNum(r.eventLoopDelayMs.p99) },
  { group: 'main CPU µs/alert', cell: (r) => fmtNum(r.mainCpuUsPerAlert) },
  { group: 'delivery ms', sub: 'p50', cell: (r) => fmtNum(r.deliveryMs.p50) },
  { group: 'delivery ms', sub: 'p99', cell: (r) => fmtNum(r.deliveryMs.p99) },
  { group: 'RSS max MB', cell: (r) => fmtNum(r.rssMaxMB) },
];

/** Two header rows: grouped columns (emit µs p50…max) share a spanning header, which keeps the table narrow. */
function tableHead(): string {
  const top: string[] = ['<th rowspan="2">peer</th>', '<th rowspan="2">scenario</th>'];
  const bottom: string[] = [];
  for (let i = 0; i < COLUMNS.length; ) {
    const { group, sub } = COLUMNS[i]!;
    let span = 1;
    while (sub !== undefined && COLUMNS[i + span]?.group === group) span++;
    if (sub === undefined) top.push(`<th rowspan="2">${esc(group)}</th>`);
    else {
      top.push(`<th colspan="${span}" class="group">${esc(group)}</th>`);
      for (let j = i; j < i + span; j++) bottom.push(`<th class="sub">${esc(COLUMNS[j]!.sub ?? '')}</th>`);
    }
    i += span;
  }
  return `<thead><tr>${top.join('')}</tr><tr>${bottom.join('')}</tr></thead>`;
}

function summaryTable(reports: readonly FloodReport[], anchor: (scenario: string) => string): string {
  const rows = reports.map((r) => {
    // The drop breakdown is a tooltip: useful when investigating, too wide for a column each.
    const d = r.drops;
    const dropTip = `full ${d.full}, too large ${d.too_large}, invalid ${d.invalid}, rejected ${d.rejected}`;
    const cells = COLUMNS.map((c) => `<td class="num"${c.group === 'dropped' ? ` title="${esc(dropTip)}"` : ''}>${c.cell(r)}</td>`);
    return `<tr><td class="peer">${esc(r.peer)}</td><td class="scenario"><a href="#${anchor(r.scenario)}">${esc(r.scenario)}</a></td>${cells.join('')}</tr>`;
  });
  return `<table class="summary">${tableHead()}<tbody>${rows.join('')}</tbody></table>`;
}

/** Groups reports by scenario, keeping the order in which scenarios first appear. */
function byScenario(reports: readonly FloodReport[]): Map<string, FloodReport[]> {
  const groups = new Map<string, FloodReport[]>();
  for (const r of reports) {
    const group = groups.get(r.scenario);
    if (group) group.push(r);
    else groups.set(r.scenario, [r]);
  }
  return groups;
}

const STYLE = `
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { margin: 0 0 4px; font-size: 22px; }
h2 { margin: 32px 0 8px; font-size: 18px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.generated { color: #666; margin: 0 0 8px; }
.notes { margin: 4px 0 16px; padding-left: 20px; color: #444; }
.notes li { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; white-space: pre-wrap; }
.table-wrap { overflow-x: auto; }
table.summary { border-collapse: collapse; font-size: 13px; }
table.summary td { vertical-align: top; }
table.summary th, table.summary td { border: 1px solid #ddd; padding: 4px 6px; }
table.summary th { background: #f4f4f4; text-align: left; vertical-align: bottom; font-weight: 600; }
table.summary th.group { text-align: center; }
table.summary th.sub { text-align: center; white-space: nowrap; }
table.summary td.scenario { min-width: 9em; }
table.summary td.peer { min-width: 10em; }
table.summary td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.summary tbody tr:nth-child(even) { background: #fafafa; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
svg.chart { max-width: 100%; height: auto; border: 1px solid #e4e4e4; border-radius: 4px; background: #fff; }
svg.chart text { font: 12px system-ui, -apple-system, "Segoe UI", sans-serif; fill: #333; }
svg.chart .chart-title { font-size: 14px; font-weight: 600; }
svg.chart .axis-title { fill: #555; }
svg.chart .empty { fill: #999; font-style: italic; }
svg.chart .grid { stroke: #ececec; }
svg.chart .axis { stroke: #888; fill: none; }
svg.chart .series { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
`;

/** One self-contained HTML page for the given flood reports. */
export function renderHtmlReport(title: string, reports: readonly FloodReport[], notes?: readonly string[]): string {
  // Colours follow the peer, not the row, so a peer looks the same in every scenario.
  const colors = new Map<string, string>();
  for (const r of reports) if (!colors.has(r.peer)) colors.set(r.peer, PALETTE[colors.size % PALETTE.length]!);
  const color = (peer: string): string => colors.get(peer) ?? PALETTE[0]!;

  const groups = byScenario(reports);
  const ids = new Map([...groups.keys()].map((s, i) => [s, `scenario-${i + 1}`]));
  const anchor = (s: string): string => ids.get(s) ?? '';

  const noteList = notes && notes.length > 0 ? `<ul class="notes">${notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '';
  const sections = [...groups].map(
    ([scenario, group]) =>
      `<section id="${anchor(scenario)}"><h2>${esc(scenario)}</h2>` +
      `<div class="charts">${scenarioCharts(scenario, group, color).join('\n')}</div></section>`,
  );
  const body = reports.length === 0 ? '<p>No reports.</p>' : `<div class="table-wrap">${summaryTable(reports, anchor)}</div>\n${sections.join('\n')}`;

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<p class="generated">Generated ${esc(new Date().toISOString())}</p>
${noteList}
</header>
<main>
${body}
</main>
</body>
</html>
`;
}

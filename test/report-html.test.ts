// The HTML flood report: a well-formed, self-contained page with five charts per scenario,
// every peer on each chart, hostile peer names escaped, and no NaN leaking from bad samples.

import { describe, expect, it } from 'vitest';
import { renderHtmlReport } from '../dist/src/flood/report-html.js';
import type { FloodReport, FloodSeries } from '../src/flood/report-types.js';

// ---------------------------------------------------------------------------------------------
// Synthetic reports

function series(n: number, f: (i: number) => Partial<Record<keyof FloodSeries, number>> = () => ({})): FloodSeries {
  const s: FloodSeries = { tSec: [], emittedPerSec: [], ackedPerSec: [], droppedPerSec: [], ringFill: [], rssMB: [], emitP99Us: [] };
  for (let i = 0; i < n; i++) {
    const o = f(i);
    s.tSec.push(o.tSec ?? (i + 1) * 0.25);
    s.emittedPerSec.push(o.emittedPerSec ?? 20_000 + (i % 3) * 500);
    s.ackedPerSec.push(o.ackedPerSec ?? 19_500 + (i % 4) * 300);
    s.droppedPerSec.push(o.droppedPerSec ?? (i > n / 2 ? 100 * i : 0));
    s.ringFill.push(o.ringFill ?? Math.min(1, i / n));
    s.rssMB.push(o.rssMB ?? 80 + i);
    s.emitP99Us.push(o.emitP99Us ?? 5 + i);
  }
  return s;
}

const DISTRIBUTION: Array<[number, number]> = [[0, 0.4], [50, 1.2], [90, 2.5], [99, 10], [99.9, 100], [99.99, 1000], [100, 4200]];

function report(peer: string, scenario: string, overrides: Partial<FloodReport> = {}): FloodReport {
  return {
    peer,
    scenario,
    emitted: 100_000,
    acked: 99_000,
    dropped: 1_000,
    drops: { full: 1_000, too_large: 0, invalid: 0, rejected: 0 },
    durationSec: 5,
    throughputPerSec: 19_800.4,
    emitUs: { p50: 1.234, p90: 2.5, p99: 10.5, p999: 100.25, max: 4200.7 },
    eventLoopDelayMs: { p50: 10.1, p99: 12.34, max: 20 },
    mainCpuUsPerAlert: 3.456,
    floodLoopCpuUsPerAlert: 0.2,
    processCpuUsPerAlert: 6.5,
    deliveryMs: { p50: 0.812, p99: 25.5 },
    rssMaxMB: 123.45,
    resent: 0,
    reconnects: 0,
    flushed: true,
    emitDistribution: DISTRIBUTION,
    series: series(20),
    ...overrides,
  };
}

const EVIL = 'a<b&"c"';
const EVIL_ESCAPED = 'a&lt;b&amp;&quot;c&quot;';
const KINDS = ['emit-latency', 'throughput', 'ring-fill', 'drops', 'rss'];

// ---------------------------------------------------------------------------------------------
// A tiny XML well-formedness checker for the SVG parts: balanced tags, quoted unique attributes,
// no raw < or stray & in text or attribute values.

const TAG = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/y;
const ATTR = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const BAD_AMP = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;

/** Returns the first problem found, or null when the fragment is well-formed XML. */
function xmlProblem(xml: string): string | null {
  const stack: string[] = [];
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (BAD_AMP.test(text)) return `unescaped & in text ${JSON.stringify(text)}`;
    if (text.includes('>')) return `raw > in text ${JSON.stringify(text)}`;
    if (lt < 0) break;
    TAG.lastIndex = lt;
    const m = TAG.exec(xml);
    if (!m) return `malformed tag at ${JSON.stringify(xml.slice(lt, lt + 40))}`;
    const [whole, closing, name, attrs, selfClosing] = m;
    const seen = new Set<string>();
    for (const a of attrs!.matchAll(ATTR)) {
      if (seen.has(a[1]!)) return `duplicate attribute ${a[1]} on <${name}>`;
      seen.add(a[1]!);
      const value = a[2] ?? a[3] ?? '';
      if (value.includes('<') || BAD_AMP.test(value)) return `unescaped attribute ${a[1]}=${JSON.stringify(value)}`;
    }
    if (closing) {
      const open = stack.pop();
      if (open !== name) return `</${name}> closes <${open ?? 'nothing'}>`;
    } else if (!selfClosing) {
      stack.push(name!);
    }
    i = lt + whole.length;
  }
  return stack.length > 0 ? `unclosed <${stack.join('> <')}>` : null;
}

const svgBlocks = (html: string): string[] => html.match(/<svg\b[\s\S]*?<\/svg>/g) ?? [];
const sections = (html: string): string[] => html.match(/<section\b[\s\S]*?<\/section>/g) ?? [];
const attr = (tag: string, name: string): string | undefined => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];

function chart(section: string, kind: string): string {
  const found = svgBlocks(section).filter((s) => attr(s.slice(0, s.indexOf('>')), 'data-chart') === kind);
  expect(found, `one ${kind} chart`).toHaveLength(1);
  return found[0]!;
}

/** The polyline points of one peer's series on a chart, as [x, y] pixel pairs. */
function polylinePoints(svg: string, peerEscaped: string, seriesName: string): Array<[number, number]> {
  const lines = (svg.match(/<polyline\b[^>]*>/g) ?? []).filter(
    (t) => attr(t, 'data-peer') === peerEscaped && attr(t, 'data-series') === seriesName,
  );
  expect(lines, `one polyline for ${peerEscaped} ${seriesName}`).toHaveLength(1);
  return attr(lines[0]!, 'points')!.trim().split(/\s+/).map((p) => p.split(',').map(Number) as [number, number]);
}

// ---------------------------------------------------------------------------------------------

describe('renderHtmlReport', () => {
  const reports = [
    report('falco-grpc-output', 'max rate'),
    report(EVIL, 'max rate', { series: series(12) }),
    report('pino transport', '20k/s, receiver stalled 5 s', { series: series(7) }),
  ];
  const html = renderHtmlReport('Flood <comparison> & "friends"', reports, ['machine: 2 vCPU <x86>', 'node dist/src/cli/main.js flood --rate max']);

  it('the well-formedness checker itself rejects broken markup', () => {
    expect(xmlProblem('<svg><g><line x1="1"/></g></svg>')).toBeNull();
    expect(xmlProblem('<svg><g></svg>')).toMatch(/closes/);
    expect(xmlProblem('<svg><g>')).toMatch(/unclosed/);
    expect(xmlProblem('<svg><text>a<b</text></svg>')).not.toBeNull();
    expect(xmlProblem('<svg><text>a & b</text></svg>')).toMatch(/&/);
    expect(xmlProblem('<svg a="1" a="2"></svg>')).toMatch(/duplicate/);
    expect(xmlProblem('<svg a="x&y"></svg>')).toMatch(/attribute/);
  });

  it('is one self-contained HTML page with the title, generation time and notes', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html.match(/<html\b/g)).toHaveLength(1);
    expect(html).toContain('<title>Flood &lt;comparison&gt; &amp; &quot;friends&quot;</title>');
    expect(html).toMatch(/Generated \d{4}-\d\d-\d\dT/);
    expect(html).toContain('<li>machine: 2 vCPU &lt;x86&gt;</li>');
    expect(html).toContain('<li>node dist/src/cli/main.js flood --rate max</li>');
    // Nothing fetched from anywhere: works opened from disk.
    expect(html).not.toMatch(/<script|<link|<img|\bsrc=|@import|url\(|href="(?!#)/i);
  });

  it('has a summary row per report with formatted numbers', () => {
    const rows = html.match(/<tbody>[\s\S]*<\/tbody>/)![0].match(/<tr>/g);
    expect(rows).toHaveLength(3);
    expect(html).toContain('<td class="num">100,000</td>'); // emitted, thousands separators
    expect(html).toContain('<td class="num">19,800</td>'); // throughput, no fractional alerts
    expect(html).toContain('<td class="num">1.23</td>'); // emit p50 µs
    expect(html).toContain('<td class="num">4,201</td>'); // emit max µs
    expect(html).toContain('<td class="num">0.812</td>'); // delivery p50 ms
    // 2 + 13 columns; grouped headers span their p50…max sub-headers.
    expect(html).toContain('<th colspan="4" class="group">emit() µs</th>');
    expect(html).toContain('<th colspan="2" class="group">delivery ms</th>');
    expect(html.match(/<th class="sub">/g)).toHaveLength(7);
    for (const h of ['main CPU µs/alert', 'RSS max MB', 'throughput /s']) expect(html).toContain(`<th rowspan="2">${h}</th>`);
    const firstRow = html.match(/<tbody><tr>([\s\S]*?)<\/tr>/)![1]!;
    expect(firstRow.match(/<td\b/g)).toHaveLength(15);
  });

  it('every SVG block is well-formed XML with role, label and data-chart', () => {
    const blocks = svgBlocks(html);
    expect(blocks).toHaveLength(10);
    for (const svg of blocks) {
      expect(xmlProblem(svg)).toBeNull();
      const open = svg.slice(0, svg.indexOf('>'));
      expect(attr(open, 'role')).toBe('img');
      expect(attr(open, 'aria-label')).toBeTruthy();
      expect(KINDS).toContain(attr(open, 'data-chart'));
      expect(svg).toMatch(/^<svg[^>]*><title>[^<]+<\/title>/);
    }
  });

  it('groups by scenario: five charts each, every peer of the scenario in every legend', () => {
    const secs = sections(html);
    expect(secs).toHaveLength(2);
    const expected: Array<[string, string[]]> = [
      ['max rate', ['falco-grpc-output', EVIL_ESCAPED]],
      ['20k/s, receiver stalled 5 s', ['pino transport']],
    ];
    secs.forEach((sec, i) => {
      const [scenario, peers] = expected[i]!;
      expect(sec).toContain(`<h2>${scenario}</h2>`);
      const kinds = svgBlocks(sec).map((s) => attr(s.slice(0, s.indexOf('>')), 'data-chart'));
      expect(kinds).toEqual(KINDS);
      for (const svg of svgBlocks(sec)) {
        const entries = svg.match(/<g class="legend-item" data-legend="peer">[\s\S]*?<\/g>/g) ?? [];
        expect(entries).toHaveLength(peers.length);
        peers.forEach((p, j) => expect(entries[j]).toContain(`>${p}</text>`));
        // Each peer its own colour, the same colour on its line and its legend entry.
        const colours = entries.map((e) => attr(e, 'stroke'));
        expect(new Set(colours).size).toBe(peers.length);
      }
    });
  });

  it('draws one polyline point per finite sample, emitted dashed beside acked', () => {
    const [maxRate, stalled] = sections(html);
    expect(polylinePoints(chart(maxRate!, 'ring-fill'), 'falco-grpc-output', 'ring-fill')).toHaveLength(20);
    expect(polylinePoints(chart(maxRate!, 'ring-fill'), EVIL_ESCAPED, 'ring-fill')).toHaveLength(12);
    expect(polylinePoints(chart(maxRate!, 'drops'), EVIL_ESCAPED, 'drops')).toHaveLength(12);
    expect(polylinePoints(chart(stalled!, 'rss'), 'pino transport', 'rss')).toHaveLength(7);
    const tp = chart(stalled!, 'throughput');
    expect(polylinePoints(tp, 'pino transport', 'acked/s')).toHaveLength(7);
    expect(polylinePoints(tp, 'pino transport', 'emitted/s')).toHaveLength(7);
    expect(tp).toMatch(/<polyline[^>]*data-series="emitted\/s"[^>]*stroke-dasharray/);
    expect(tp).not.toMatch(/<polyline[^>]*data-series="acked\/s"[^>]*stroke-dasharray/);
    expect(polylinePoints(chart(stalled!, 'emit-latency'), 'pino transport', 'emit µs')).toHaveLength(DISTRIBUTION.length);
  });

  it('puts the latency x axis on a nines scale and y on a log scale', () => {
    const svg = chart(sections(html)[0]!, 'emit-latency');
    const pts = polylinePoints(svg, 'falco-grpc-output', 'emit µs');
    // DISTRIBUTION: p0, 50, 90, 99, 99.9, 99.99, max → indices 2..5 one decade apart, max one more.
    const dx = pts.slice(3).map((p, i) => p[0] - pts[i + 2]![0]);
    for (const d of dx) expect(d).toBeCloseTo(dx[0]!, 0);
    expect(dx[0]).toBeGreaterThan(20);
    // 10 → 100 → 1000 µs: equal vertical steps on a log axis (pixel y grows downwards).
    const dy = [pts[4]![1] - pts[3]![1], pts[5]![1] - pts[4]![1]];
    expect(dy[0]).toBeLessThan(-20);
    expect(dy[0]).toBeCloseTo(dy[1]!, 0);
    for (const label of ['>50<', '>90<', '>99<', '>99.9<', '>99.99<', '>max<']) expect(svg).toContain(label);
    expect(svg).toContain('percentile');
  });

  it('escapes a hostile peer name everywhere and never emits it raw', () => {
    expect(html).not.toContain(EVIL);
    expect(html).not.toContain('a<b');
    expect(html).toContain(`<td class="peer">${EVIL_ESCAPED}</td>`);
    expect(html).toContain(`data-peer="${EVIL_ESCAPED}"`);
  });

  it('survives empty, single-point, all-zero and NaN/Infinity series without printing NaN', () => {
    const nanSeries = series(10, (i) => (i % 3 === 0 ? { ackedPerSec: NaN, ringFill: Infinity, rssMB: -Infinity } : {}));
    const zeroDist: Array<[number, number]> = [[50, 0], [99, 0], [100, 0]];
    const odd = renderHtmlReport('edge cases', [
      report('nan', 'odd', { series: nanSeries, emitDistribution: [[50, NaN], [99, 3], [99.9, Infinity], [100, 9]], emitUs: { p50: NaN, p90: 1, p99: Infinity, p999: 1, max: 1 } }),
      report('empty', 'odd', { series: series(0), emitDistribution: [] }),
      report('single', 'odd', { series: series(1), emitDistribution: [[100, 5]] }),
      report('zeros', 'odd', { series: series(5, () => ({ ackedPerSec: 0, emittedPerSec: 0, droppedPerSec: 0, ringFill: 0, rssMB: 0 })), emitDistribution: zeroDist }),
      report('alone-empty', 'nothing', { series: series(0), emitDistribution: [] }),
    ]);
    expect(odd).not.toMatch(/NaN|Infinity/);
    for (const svg of svgBlocks(odd)) expect(xmlProblem(svg)).toBeNull();
    expect(svgBlocks(odd)).toHaveLength(10);

    const [oddSec, nothing] = sections(odd);
    // 10 samples, every third bad: 4 skipped.
    expect(polylinePoints(chart(oddSec!, 'throughput'), 'nan', 'acked/s')).toHaveLength(6);
    expect(polylinePoints(chart(oddSec!, 'throughput'), 'nan', 'emitted/s')).toHaveLength(10);
    expect(polylinePoints(chart(oddSec!, 'ring-fill'), 'nan', 'ring-fill')).toHaveLength(6);
    expect(polylinePoints(chart(oddSec!, 'emit-latency'), 'nan', 'emit µs')).toHaveLength(2);
    // A single sample is still visible: a dot, as a one-point polyline draws nothing.
    expect(polylinePoints(chart(oddSec!, 'rss'), 'single', 'rss')).toHaveLength(1);
    expect(chart(oddSec!, 'rss')).toMatch(/<circle\b/);
    // Zeros on the log axis sit at the floor, inside the plot.
    for (const [, y] of polylinePoints(chart(oddSec!, 'emit-latency'), 'zeros', 'emit µs')) expect(y).toBeGreaterThan(0);
    // An empty peer keeps its legend entry and draws no line.
    expect(chart(oddSec!, 'drops')).toContain('>empty</text>');
    expect(chart(oddSec!, 'drops')).not.toContain('data-peer="empty"');
    // A scenario with no data at all says so rather than drawing empty axes silently.
    for (const kind of KINDS) {
      expect(chart(nothing!, kind)).toContain('no data');
      expect(chart(nothing!, kind)).not.toContain('<polyline');
    }
    expect(odd).toContain('<td class="num">—</td>'); // NaN p50 in the table
  });

  it('renders an empty report list as a page that says so', () => {
    const empty = renderHtmlReport('nothing', []);
    expect(empty).toContain('No reports.');
    expect(svgBlocks(empty)).toHaveLength(0);
    expect(empty).not.toContain('class="notes"');
  });
});

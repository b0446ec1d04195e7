// The classic outputs benchmark (`npm run bench -- --scenario outputs`): this project's file output
// and its fan-out (createOutputs: file + http + gRPC) against what a Node.js user would otherwise
// pick, pino with its transports, and naive main-thread code. Same alerts, same destinations
// (child processes that count what they get), each run in a fresh process, peers interleaved,
// medians of the repetitions.

import { fileURLToPath } from 'node:url';
import { fmt, get, medianRun, mediansOf, runChild } from './runs.mjs';

const PEER_SCRIPT = fileURLToPath(new URL('./outputs-peer.mjs', import.meta.url));
const OURS = 'falco-grpc-output';
const OURS_BLOCKING = 'falco-grpc-output, onFull block';
const PINO = 'pino transport';
const NAIVE = 'naive main thread';
const FILE_ONLY = { file: true, http: false, grpc: false };
const ALL = { file: true, http: true, grpc: true };

// One POST per alert (Falco's http_output contract) caps the HTTP destination at 2,500-4,000 alerts/s
// on the 2-core machine, for every peer: the fan-out is paced below that, so that every peer can
// deliver everything when nothing is wrong. Ticks of 10 ms (20 alerts each, as the gRPC bench's
// 20,000/s in 1 ms ticks) keep the flood loop's own wake-ups from dwarfing what emit() costs.
const FANOUT_PACE = { rate: 2000, tickMs: 10 };

export const OUTPUT_SCENARIOS = {
  'outputs-file': {
    scenario: 'file output, max rate, 200,000 alerts',
    rate: 'max',
    count: 200_000,
    destinations: FILE_ONLY,
    peers: [OURS, OURS_BLOCKING, PINO, NAIVE],
  },
  'outputs-fanout': {
    scenario: 'fan-out to file + http + gRPC, 2,000/s',
    ...FANOUT_PACE,
    durationSec: 6,
    destinations: ALL,
    peers: [OURS, PINO, NAIVE],
  },
  // 8 s at 2,000/s is more than the 8 MiB ring holds (~13,000 alerts): ours must drop, and count it.
  'outputs-stall': {
    scenario: 'fan-out, 2,000/s, http server stalled 8 s mid-run',
    ...FANOUT_PACE,
    durationSec: 12,
    httpStallSec: 8,
    destinations: ALL,
    peers: [OURS, PINO, NAIVE],
  },
};
/** `--scenario outputs` runs them all. */
export const OUTPUT_GROUP = 'outputs';

const KINDS = ['file', 'http', 'grpc'];
const NUMERIC = [
  'emitted', 'throughputPerSec', 'durationSec', 'mainCpuUsPerAlert', 'rssMaxMB', 'rssGrowthMB', 'fileBytesPerLine',
  'emitUs.p50', 'emitUs.p99', 'emitUs.p999', 'emitUs.max', 'eventLoopDelayMs.p50', 'eventLoopDelayMs.p99', 'eventLoopDelayMs.max',
  ...KINDS.flatMap((k) => [`destinations.${k}.delivered`, `destinations.${k}.dropped`, `destinations.${k}.lost`]),
];

/** [label, path, true when more is better]: each becomes "how many times better ours is". */
const RATIOS = [
  ['mainCpuPerAlert', 'mainCpuUsPerAlert', false],
  ['emitP50', 'emitUs.p50', false],
  ['emitP99', 'emitUs.p99', false],
  ['eventLoopP99', 'eventLoopDelayMs.p99', false],
  ['deliveredPerSec', 'throughputPerSec', true],
  ['rssMax', 'rssMaxMB', false],
];

function ratiosOf(ours, other) {
  return Object.fromEntries(
    RATIOS.map(([label, path, moreIsBetter]) => [label, moreIsBetter ? get(ours, path) / get(other, path) : get(other, path) / get(ours, path)]),
  );
}

const sum = (r, what) => KINDS.reduce((n, k) => n + (r.destinations[k]?.[what] ?? 0), 0);
const cell = (r, k) => (r.destinations[k] ? fmt(r.destinations[k].delivered, 0) : '—');

function table(peers) {
  const lines = [
    '| peer | emitted | file lines | http alerts | gRPC alerts | dropped (counted) | lost | all arrived | last delivery s | delivered/s | emit µs p50 | p99 | max | loop delay ms p99 | max | main CPU µs/alert | RSS max MB | RSS growth MB |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of Object.values(peers)) {
    lines.push(
      `| ${r.peer} | ${fmt(r.emitted, 0)} | ${cell(r, 'file')} | ${cell(r, 'http')} | ${cell(r, 'grpc')} | ${fmt(sum(r, 'dropped'), 0)} | ${fmt(sum(r, 'lost'), 0)} | ${r.complete}/${r.runs} | ${fmt(r.durationSec, 1)} | ${fmt(r.throughputPerSec, 0)} | ${fmt(r.emitUs.p50)} | ${fmt(r.emitUs.p99)} | ${fmt(r.emitUs.max, 0)} | ${fmt(r.eventLoopDelayMs.p99)} | ${fmt(r.eventLoopDelayMs.max)} | ${fmt(r.mainCpuUsPerAlert)} | ${fmt(r.rssMaxMB, 0)} | ${fmt(r.rssGrowthMB, 0)} |`,
    );
  }
  return lines;
}

function ratioLine(who, q) {
  return (
    `${who}: main CPU/alert ${fmt(q.mainCpuPerAlert, 1)}× less, emit p50 ${fmt(q.emitP50, 1)}× / p99 ${fmt(q.emitP99, 1)}× faster, ` +
    `loop delay p99 ${fmt(q.eventLoopP99, 1)}× lower, delivered/s ${fmt(q.deliveredPerSec, 1)}×, peak RSS ${fmt(q.rssMax, 1)}× lower`
  );
}

/**
 * Runs the chosen outputs scenarios, `reps` times each peer.
 * @returns {{ scenarios: Record<string, { peers: object, ratios: object }>, lines: string[], chartRuns: object[] }}
 */
export function runOutputScenarios(keys, reps) {
  const scenarios = {};
  const lines = [];
  const chartRuns = [];
  for (const key of keys) {
    const { peers, ...options } = OUTPUT_SCENARIOS[key];
    const runs = Object.fromEntries(peers.map((p) => [p, []]));
    // Interleave peers within each repetition, so machine noise hits them alike.
    for (let rep = 0; rep < reps; rep++) {
      for (const peer of peers) {
        process.stderr.write(`bench: ${options.scenario} — ${peer} (run ${rep + 1}/${reps})\n`);
        const run = runChild(PEER_SCRIPT, peer, { ...options, flushTimeoutMs: 30_000 });
        runs[peer].push({ ...run, rssGrowthMB: run.rssMaxMB - run.rssStartMB });
      }
    }
    const medians = {};
    for (const peer of peers) {
      const m = { peer, scenario: options.scenario, runs: runs[peer].length, complete: runs[peer].filter((r) => r.flushed).length };
      medians[peer] = mediansOf(runs[peer], NUMERIC.filter((path) => !path.startsWith('destinations.') || options.destinations[path.split('.')[1]]), m);
      chartRuns.push(medianRun(runs[peer]));
    }
    const ratios = {};
    const ours = peers.filter((p) => p.startsWith(OURS));
    for (const o of ours) for (const p of peers.filter((x) => !ours.includes(x))) ratios[`${o} vs ${p}`] = ratiosOf(medians[o], medians[p]);
    scenarios[key] = { peers: medians, ratios };

    lines.push(`### ${options.scenario}`, '', ...table(medians));
    for (const [who, q] of Object.entries(ratios)) lines.push('', ratioLine(who, q));
    lines.push('');
  }
  return { scenarios, lines, chartRuns };
}

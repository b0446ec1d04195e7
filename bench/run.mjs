// npm run bench: the same alerts into the same receiver (a `receive` child process over
// loopback mTLS), from this project's transmitter and from what a Node.js user would
// otherwise build, side by side. Each run is a fresh process; medians of --reps repetitions.
//
//   npm run bench                          all scenarios, 3 repetitions
//   npm run bench -- --reps 5 --json       more repetitions, JSON on stdout
//   npm run bench -- --scenario stall      one scenario (max, paced, stall, mix, outage)
//   npm run bench -- --scenario outputs    the classic outputs and the fan-out (outputs.mjs), or one
//                                          of outputs-file, outputs-fanout, outputs-stall
//   npm run bench -- --scenario scale      receivers on NATS JetStream beside bare publishers (scale.mjs)
//   npm run bench -- --scenario emit       emit() against JSON.stringify of the same alerts (emit.mjs)
//   npm run bench -- --scenario console    the web console under a flood, page open or not (console.mjs)
//   npm run bench -- --scenario throughput ours against grpc-js with pre-encoded requests, unix and mTLS (throughput.mjs)
//   npm run bench -- --scenario subscribers a sub subscriber at 100,000 alerts/s (subscribers.mjs)
//   npm run bench -- --scenario spool      with and without a spool, and an outage's replay (spool.mjs),
//                                          or one of spool-max, spool-paced, spool-fast, spool-outage

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderHtmlReport } from '../dist/src/flood/report-html.js';
import { EMIT_SCENARIOS, runEmitScenarios } from './emit.mjs';
import { OUTPUT_GROUP, OUTPUT_SCENARIOS, runOutputScenarios } from './outputs.mjs';
import { CONSOLE_SCENARIO, runConsoleScenario } from './console.mjs';
import { SPOOL_GROUP, SPOOL_SCENARIOS, runSpoolScenarios } from './spool.mjs';
import { THROUGHPUT_SCENARIO, runThroughputScenario } from './throughput.mjs';
import { SUBSCRIBERS_SCENARIO, runSubscribersScenario } from './subscribers.mjs';
import { fmt, medianRun, mediansOf, runChild } from './runs.mjs';
import { runScaleScenario, SCALE_SCENARIO } from './scale.mjs';

const PEER_SCRIPT = fileURLToPath(new URL('./peer.mjs', import.meta.url));
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const OURS = 'falco-grpc-output';
const ALL_PEERS = [OURS, 'grpc-js main thread', 'pino transport'];

const SCENARIOS = {
  max: { scenario: 'max rate, healthy receiver', rate: 'max', durationSec: 5, mix: 'fixed', peers: ALL_PEERS },
  // The baseline for the stall scenario: same pacing, nothing wrong.
  paced: { scenario: '20,000/s, healthy receiver', rate: 20000, durationSec: 15, mix: 'fixed', peers: ALL_PEERS },
  stall: {
    scenario: '20,000/s, receiver stalled 5 s mid-run',
    rate: 20000,
    durationSec: 15,
    mix: 'fixed',
    fault: { kind: 'stall', seconds: 5 },
    peers: ALL_PEERS,
  },
  mix: { scenario: 'realistic mix, max rate', rate: 'max', durationSec: 5, mix: 'realistic', peers: ALL_PEERS },
  // The other peers have no bound: a minute without a receiver would only measure their heap growing.
  outage: {
    scenario: '50,000/s, receiver down 60 s',
    rate: 50000,
    durationSec: 60,
    mix: 'fixed',
    fault: { kind: 'down' },
    flushTimeoutMs: 1000,
    peers: [OURS],
  },
};

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    scenario: { type: 'string', multiple: true },
    json: { type: 'boolean', default: false },
    report: { type: 'string', default: `${RESULTS}bench.html` },
  },
});
const reps = Number(args.reps);
const GROUPS = { [OUTPUT_GROUP]: OUTPUT_SCENARIOS, [SPOOL_GROUP]: SPOOL_SCENARIOS };
const chosen = (args.scenario ?? ['emit', THROUGHPUT_SCENARIO, SUBSCRIBERS_SCENARIO, 'max', 'paced', 'stall', 'mix', OUTPUT_GROUP, SPOOL_GROUP]).flatMap((k) => (GROUPS[k] ? Object.keys(GROUPS[k]) : [k]));
for (const key of chosen) {
  if (!SCENARIOS[key] && !OUTPUT_SCENARIOS[key] && !SPOOL_SCENARIOS[key] && !EMIT_SCENARIOS[key] && key !== CONSOLE_SCENARIO && key !== THROUGHPUT_SCENARIO && key !== SUBSCRIBERS_SCENARIO && key !== SCALE_SCENARIO) {
    throw new Error(`unknown scenario ${key}; one of ${[...Object.keys(EMIT_SCENARIOS), ...Object.keys(SCENARIOS), OUTPUT_GROUP, ...Object.keys(OUTPUT_SCENARIOS), SPOOL_GROUP, ...Object.keys(SPOOL_SCENARIOS), CONSOLE_SCENARIO, THROUGHPUT_SCENARIO, SUBSCRIBERS_SCENARIO, SCALE_SCENARIO].join(', ')}`);
  }
}

const NUMERIC = [
  'emitted', 'acked', 'dropped', 'throughputPerSec', 'mainCpuUsPerAlert', 'rssMaxMB', 'resent', 'reconnects',
  'emitUs.p50', 'emitUs.p90', 'emitUs.p99', 'emitUs.p999', 'emitUs.max',
  'eventLoopDelayMs.p50', 'eventLoopDelayMs.p99', 'eventLoopDelayMs.max', 'deliveryMs.p50', 'deliveryMs.p99',
];
const runPeer = (peer, options) => runChild(PEER_SCRIPT, peer, { ...options, embeddedTransport: 'mtls' });

const yardstick = runEmitScenarios(chosen.filter((k) => EMIT_SCENARIOS[k]), reps);

const results = {}; // scenario → peer → { median, runs }
const chartRuns = [];
for (const key of chosen.filter((k) => SCENARIOS[k])) {
  const { peers, ...options } = SCENARIOS[key];
  results[key] = {};
  const runs = Object.fromEntries(peers.map((p) => [p, []]));
  // Interleave peers within each repetition, so machine noise hits them alike.
  for (let rep = 0; rep < reps; rep++) {
    for (const peer of peers) {
      process.stderr.write(`bench: ${options.scenario} — ${peer} (run ${rep + 1}/${reps})\n`);
      runs[peer].push(runPeer(peer, options));
    }
  }
  for (const peer of peers) {
    const m = { peer, scenario: options.scenario, runs: runs[peer].length, flushed: runs[peer].every((r) => r.flushed) };
    results[key][peer] = mediansOf(runs[peer], NUMERIC, m);
    chartRuns.push(medianRun(runs[peer]));
  }
}

const classic = runOutputScenarios(chosen.filter((k) => OUTPUT_SCENARIOS[k]), reps);
chartRuns.push(...classic.chartRuns);
const spooled = runSpoolScenarios(chosen.filter((k) => SPOOL_SCENARIOS[k]), reps);
chartRuns.push(...spooled.chartRuns);
const scale = chosen.includes(SCALE_SCENARIO) ? await runScaleScenario(reps) : { scenarios: {}, lines: [] };

/** How many times better ours is: the other's number over ours (CPU, latency), or ours over theirs (throughput). */
function ratios(scenario) {
  const ours = scenario[OURS];
  const out = {};
  for (const [peer, r] of Object.entries(scenario)) {
    if (peer === OURS) continue;
    out[`vs ${peer}`] = {
      mainCpuPerAlert: r.mainCpuUsPerAlert / ours.mainCpuUsPerAlert,
      emitP50: r.emitUs.p50 / ours.emitUs.p50,
      emitP99: r.emitUs.p99 / ours.emitUs.p99,
      throughput: ours.throughputPerSec / r.throughputPerSec,
      eventLoopP99: r.eventLoopDelayMs.p99 / ours.eventLoopDelayMs.p99,
      rssMax: r.rssMaxMB / ours.rssMaxMB,
    };
  }
  return out;
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
const output = { machine, reps, scenarios: {} };
for (const [key, scenario] of Object.entries(results)) output.scenarios[key] = { peers: scenario, ratios: ratios(scenario) };

const lines = [`machine: ${machine}; medians of ${reps} runs`, '', ...yardstick.lines];
for (const { peers, ratios: rs } of Object.values(output.scenarios)) {
  const first = Object.values(peers)[0];
  lines.push(`### ${first.scenario}`, '');
  lines.push('| peer | acked/s | dropped | emit µs p50 | p99 | p99.9 | max | loop delay ms p99 | main CPU µs/alert | delivery ms p50 / p99 | RSS max MB |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of Object.values(peers)) {
    lines.push(
      `| ${r.peer} | ${fmt(r.throughputPerSec, 0)} | ${fmt(r.dropped, 0)} | ${fmt(r.emitUs.p50)} | ${fmt(r.emitUs.p99)} | ${fmt(r.emitUs.p999)} | ${fmt(r.emitUs.max, 0)} | ${fmt(r.eventLoopDelayMs.p99)} | ${fmt(r.mainCpuUsPerAlert)} | ${fmt(r.deliveryMs.p50)} / ${fmt(r.deliveryMs.p99)} | ${fmt(r.rssMaxMB, 0)} |`,
    );
  }
  for (const [vs, q] of Object.entries(rs)) {
    lines.push('', `falco-grpc-output ${vs}: main CPU/alert ${fmt(q.mainCpuPerAlert, 1)}× less, emit p50 ${fmt(q.emitP50, 1)}× / p99 ${fmt(q.emitP99, 1)}× faster, throughput ${fmt(q.throughput, 1)}×, loop delay p99 ${fmt(q.eventLoopP99, 1)}× lower, peak RSS ${fmt(q.rssMax, 1)}× lower`);
  }
  lines.push('');
}
Object.assign(output.scenarios, yardstick.scenarios, classic.scenarios, spooled.scenarios, scale.scenarios);
lines.push(...classic.lines, ...spooled.lines, ...scale.lines);
if (chosen.includes(THROUGHPUT_SCENARIO)) {
  const tp = runThroughputScenario(reps);
  Object.assign(output.scenarios, tp.scenarios);
  lines.push(...tp.lines);
}
if (chosen.includes(SUBSCRIBERS_SCENARIO)) {
  const subs = await runSubscribersScenario(reps);
  Object.assign(output.scenarios, subs.scenarios);
  lines.push(...subs.lines);
}
if (chosen.includes(CONSOLE_SCENARIO)) {
  const ui = await runConsoleScenario(reps);
  Object.assign(output.scenarios, ui.scenarios);
  lines.push(...ui.lines);
}

mkdirSync(RESULTS, { recursive: true });
writeFileSync(`${RESULTS}bench.json`, JSON.stringify(output, null, 2));
writeFileSync(`${RESULTS}bench.md`, lines.join('\n'));
writeFileSync(args.report, renderHtmlReport('falco-grpc-output benchmark', chartRuns, [machine, `medians of ${reps} runs; charts show each peer's median-throughput run`, 'reproduce: npm run bench']));
process.stderr.write(`bench: wrote ${RESULTS}bench.json, bench.md and ${args.report}\n`);
process.stdout.write(args.json ? `${JSON.stringify(output)}\n` : `${lines.join('\n')}\n`);

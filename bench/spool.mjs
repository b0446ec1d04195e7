// The spool's benchmark (`npm run bench -- --scenario spool`, or one of its scenarios):
//   spool-max, spool-paced, spool-fast
//                           the same flood (receiver over loopback mTLS) with and without a spool:
//                           emit() latency and main-thread CPU per alert should not move, and
//                           acked/s with a spool should stay at 80 % or more of the figure without
//   spool-outage            50,000/s with the receiver down (60 s by default): drops and memory,
//                           then a new process with the receiver up: its startup time and RSS with
//                           that backlog on disk, and the replay rate (spool MB / time to flush)
// Each run in fresh processes; peers interleaved; medians of the repetitions.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, medianRun, mediansOf, runChild } from './runs.mjs';

const PEER_SCRIPT = fileURLToPath(new URL('./peer.mjs', import.meta.url));
const REPLAY_SCRIPT = fileURLToPath(new URL('./spool-replay.mjs', import.meta.url));
const PLAIN = 'falco-grpc-output';
const SPOOLED = 'falco-grpc-output, spool';

export const SPOOL_SCENARIOS = {
  'spool-max': { scenario: 'max rate, healthy receiver, with and without a spool', rate: 'max', durationSec: 5, mix: 'fixed' },
  'spool-paced': { scenario: '20,000/s, healthy receiver, with and without a spool', rate: 20000, durationSec: 15, mix: 'fixed' },
  // Fast enough that the work per alert, not the worker's per-tick polling, is what the process CPU shows.
  'spool-fast': { scenario: '100,000/s, healthy receiver, with and without a spool', rate: 100000, durationSec: 6, mix: 'fixed' },
  // SPOOL_OUTAGE_SEC shortens it (the backlog is rate × seconds × ~660 bytes: 2 GB for 60 s).
  'spool-outage': { scenario: `50,000/s, receiver down ${process.env.SPOOL_OUTAGE_SEC ?? 60} s, then a new process replays`, rate: 50000, seconds: Number(process.env.SPOOL_OUTAGE_SEC ?? 60) },
};
/** `--scenario spool` runs them all. */
export const SPOOL_GROUP = 'spool';

const FLOOD_NUMERIC = ['acked', 'dropped', 'throughputPerSec', 'mainCpuUsPerAlert', 'processCpuUsPerAlert', 'rssMaxMB', 'emitUs.p50', 'emitUs.p99', 'emitUs.p999', 'eventLoopDelayMs.p99'];
const OUTAGE_NUMERIC = [
  'fill.emitted', 'fill.dropped', 'fill.spoolMB', 'fill.rssStartMB', 'fill.rssMaxMB',
  'replay.emptyStartupMs', 'replay.startupMs', 'replay.rssBeforeMB', 'replay.rssAfterOpenMB', 'replay.rssMaxMB', 'replay.replaySec', 'replay.replayMBPerSec', 'replay.readAloneMBPerSec', 'replay.replayAlertsPerSec', 'replay.acked', 'replay.dropped',
];

function floodScenario(options, reps) {
  const runs = { [PLAIN]: [], [SPOOLED]: [] };
  for (let rep = 0; rep < reps; rep++) {
    for (const peer of [PLAIN, SPOOLED]) {
      process.stderr.write(`bench: ${options.scenario} — ${peer} (run ${rep + 1}/${reps})\n`);
      runs[peer].push(runChild(PEER_SCRIPT, peer, { ...options, embeddedTransport: 'mtls' }));
    }
  }
  const peers = {};
  for (const peer of [PLAIN, SPOOLED]) peers[peer] = mediansOf(runs[peer], FLOOD_NUMERIC, { peer, runs: reps, flushed: runs[peer].every((r) => r.flushed) });
  const [p, s] = [peers[PLAIN], peers[SPOOLED]];
  const ratios = {
    throughput: s.throughputPerSec / p.throughputPerSec,
    emitP50: s.emitUs.p50 / p.emitUs.p50,
    emitP99: s.emitUs.p99 / p.emitUs.p99,
    mainCpuPerAlert: s.mainCpuUsPerAlert / p.mainCpuUsPerAlert,
    processCpuPerAlert: s.processCpuUsPerAlert / p.processCpuUsPerAlert,
  };
  const lines = [
    `### ${options.scenario}`,
    '',
    '| peer | acked/s | dropped | emit µs p50 | p99 | p99.9 | loop delay ms p99 | main CPU µs/alert | process CPU µs/alert | RSS max MB |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...[p, s].map((r) => `| ${r.peer} | ${fmt(r.throughputPerSec, 0)} | ${fmt(r.dropped, 0)} | ${fmt(r.emitUs.p50)} | ${fmt(r.emitUs.p99)} | ${fmt(r.emitUs.p999)} | ${fmt(r.eventLoopDelayMs.p99)} | ${fmt(r.mainCpuUsPerAlert)} | ${fmt(r.processCpuUsPerAlert)} | ${fmt(r.rssMaxMB, 0)} |`),
    '',
    `with a spool / without: acked/s ${fmt(ratios.throughput)}× (target ≥ 0.8), emit p50 ${fmt(ratios.emitP50)}×, p99 ${fmt(ratios.emitP99)}×, main CPU/alert ${fmt(ratios.mainCpuPerAlert)}× (1.00 = unchanged), process CPU/alert ${fmt(ratios.processCpuPerAlert)}×`,
    '',
  ];
  return { result: { peers, ratios }, lines, chartRuns: [medianRun(runs[PLAIN]), medianRun(runs[SPOOLED])] };
}

function outageScenario(options, reps) {
  const runs = [];
  for (let rep = 0; rep < reps; rep++) {
    const dir = mkdtempSync(join(tmpdir(), 'fgo-bench-outage-'));
    try {
      process.stderr.write(`bench: ${options.scenario} — outage (run ${rep + 1}/${reps})\n`);
      const fill = runChild(REPLAY_SCRIPT, 'fill', { dir, rate: options.rate, seconds: options.seconds });
      process.stderr.write(`bench: ${options.scenario} — replay of ${fmt(fill.spoolMB, 0)} MB (run ${rep + 1}/${reps})\n`);
      const replay = runChild(REPLAY_SCRIPT, 'replay', { dir });
      runs.push({ fill, replay });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const m = mediansOf(runs, OUTAGE_NUMERIC, { runs: reps, flushed: runs.every((r) => r.replay.flushed) });
  const lines = [
    `### ${options.scenario}`,
    '',
    '| emitted | dropped | spool MB | RSS during the outage MB (start → max) | startup ms, empty spool | startup ms, this backlog | RSS MB before → after open → max in replay | replay s | replay MB/s | replay alerts/s | acked | spool read alone MB/s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    `| ${fmt(m.fill.emitted, 0)} | ${fmt(m.fill.dropped, 0)} | ${fmt(m.fill.spoolMB, 0)} | ${fmt(m.fill.rssStartMB, 0)} → ${fmt(m.fill.rssMaxMB, 0)} | ${fmt(m.replay.emptyStartupMs, 0)} | ${fmt(m.replay.startupMs, 0)} | ${fmt(m.replay.rssBeforeMB, 0)} → ${fmt(m.replay.rssAfterOpenMB, 0)} → ${fmt(m.replay.rssMaxMB, 0)} | ${fmt(m.replay.replaySec, 1)} | ${fmt(m.replay.replayMBPerSec, 0)} | ${fmt(m.replay.replayAlertsPerSec, 0)} | ${fmt(m.replay.acked, 0)} | ${fmt(m.replay.readAloneMBPerSec, 0)} |`,
    '',
    `replay ${fmt(m.replay.replayMBPerSec, 0)} MB/s to the receiver (target ≥ 100; the spool alone reads ${fmt(m.replay.readAloneMBPerSec, 0)} MB/s), ${m.flushed ? 'every alert acknowledged' : 'NOT every alert acknowledged'}`,
    '',
  ];
  return { result: m, lines, chartRuns: [] };
}

/** Runs the chosen spool scenarios; the same shape as the classic outputs' (bench/outputs.mjs). */
export function runSpoolScenarios(keys, reps) {
  const scenarios = {};
  const lines = [];
  const chartRuns = [];
  for (const key of keys) {
    const options = SPOOL_SCENARIOS[key];
    const run = key === 'spool-outage' ? outageScenario(options, reps) : floodScenario(options, reps);
    scenarios[key] = run.result;
    lines.push(...run.lines);
    chartRuns.push(...run.chartRuns);
  }
  return { scenarios, lines, chartRuns };
}

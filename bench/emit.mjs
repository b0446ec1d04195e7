// The emit() yardstick (`npm run bench -- --scenario emit`): emit() p50/p99 against JSON.stringify
// of the same alert, timed in the same process call by call and interleaved (emit-peer.mjs), so the
// ratio cancels what the shared machine does to both. The receiver healthy, stalled and down;
// each run a fresh process, receiver modes interleaved, medians of the repetitions.

import { fileURLToPath } from 'node:url';
import { fmt, mediansOf, runChild } from './runs.mjs';

const PEER_SCRIPT = fileURLToPath(new URL('./emit-peer.mjs', import.meta.url));
const RECEIVERS = ['healthy', 'stalled', 'down'];
const SETS = { samples: '1,000 sample alerts', reference: '630-byte reference alert' };

export const EMIT_SCENARIOS = {
  // 150,000 pairs per alert set at 50,000/s in 1 ms ticks: a busy host, not a flood.
  emit: { scenario: 'emit() vs JSON.stringify, 50,000/s', rate: 50_000, count: 150_000 },
};

const NUMERIC = Object.keys(SETS).flatMap((set) =>
  ['emitUs.p50', 'emitUs.p99', 'stringifyUs.p50', 'stringifyUs.p99', 'ratioP50', 'emitP99OverP50'].map((p) => `sets.${set}.${p}`),
).concat(['acked', 'dropped', 'timerOverheadNs']);

/**
 * Runs the chosen emit scenarios, `reps` times each receiver mode.
 * @returns {{ scenarios: Record<string, object>, lines: string[] }}
 */
export function runEmitScenarios(keys, reps) {
  const scenarios = {};
  const lines = [];
  for (const key of keys) {
    const options = EMIT_SCENARIOS[key];
    const runs = Object.fromEntries(RECEIVERS.map((r) => [r, []]));
    for (let rep = 0; rep < reps; rep++) {
      for (const receiver of RECEIVERS) {
        process.stderr.write(`bench: ${options.scenario} — receiver ${receiver} (run ${rep + 1}/${reps})\n`);
        runs[receiver].push(runChild(PEER_SCRIPT, receiver, options));
      }
    }
    const medians = Object.fromEntries(RECEIVERS.map((r) => [r, mediansOf(runs[r], NUMERIC, { receiver: r, runs: reps })]));
    scenarios[key] = { receivers: medians };
    lines.push(`### ${options.scenario}`, '');
    lines.push('| receiver | alerts | emit µs p50 | p99 | p99/p50 | JSON.stringify µs p50 | p99 | emit p50 / stringify p50 | emit p50 vs healthy |');
    lines.push('|---|---|---|---|---|---|---|---|---|');
    for (const [set, label] of Object.entries(SETS)) {
      for (const receiver of RECEIVERS) {
        const s = medians[receiver].sets[set];
        const vsHealthy = s.emitUs.p50 / medians.healthy.sets[set].emitUs.p50;
        lines.push(
          `| ${receiver} | ${label} | ${fmt(s.emitUs.p50)} | ${fmt(s.emitUs.p99)} | ${fmt(s.emitP99OverP50, 1)} | ${fmt(s.stringifyUs.p50)} | ${fmt(s.stringifyUs.p99)} | ${fmt(s.ratioP50)}× | ${fmt(vsHealthy)}× |`,
        );
      }
    }
    lines.push('', `Each column includes one hrtime.bigint() pair (${fmt(medians.healthy.timerOverheadNs, 0)} ns p50); ratios are medians of per-run ratios.`, '');
  }
  return { scenarios, lines };
}

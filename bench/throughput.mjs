// End-to-end throughput at max rate (`npm run bench -- --scenario throughput`): this project's
// transmitter against the ceiling on the same machine — grpc-js fed pre-encoded requests and
// nothing else, into the same `receive --discard` child — over a unix socket and loopback mTLS.
// Each run a fresh process (throughput-peer.mjs), peers interleaved, medians of the repetitions.
// CPU per alert comes from the processes' own accounting (the peer's every thread, the receiver's
// /proc), so the table also says what the two cores could carry at most: 2 cores' worth of
// microseconds over the CPU one alert costs in all.

import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { fmt, mediansOf, runChild } from './runs.mjs';

const PEER_SCRIPT = fileURLToPath(new URL('./throughput-peer.mjs', import.meta.url));
const OURS = 'falco-grpc-output';
const CEILING = 'grpc-js, pre-encoded requests (ceiling)';
const SECONDS = 5;

export const THROUGHPUT_SCENARIO = 'throughput';
const NUMERIC = ['ackedPerSec', 'peerCpuUsPerAlert', 'mainCpuUsPerAlert', 'receiverCpuUsPerAlert', 'totalCpuUsPerAlert', 'cpuBoundPerSec'];

export function runThroughputScenario(reps) {
  const scenarios = {};
  const lines = [`### max rate, end to end: ours against grpc-js with pre-encoded requests (${SECONDS} s runs)`, ''];
  lines.push('| transport | peer | acked/s | peer CPU µs/alert | of which main thread | receiver CPU µs/alert | total µs/alert | CPU-bound rate on these cores |');
  lines.push('|---|---|---|---|---|---|---|---|');
  const verdicts = [];
  for (const transport of ['unix', 'mtls']) {
    const runs = { [OURS]: [], [CEILING]: [] };
    for (let rep = 0; rep < reps; rep++) {
      for (const peer of Object.keys(runs)) {
        process.stderr.write(`bench: throughput over ${transport} — ${peer} (run ${rep + 1}/${reps})\n`);
        const r = runChild(PEER_SCRIPT, peer, { transport, seconds: SECONDS });
        r.totalCpuUsPerAlert = r.peerCpuUsPerAlert + r.receiverCpuUsPerAlert;
        r.cpuBoundPerSec = (cpus().length * 1e6) / r.totalCpuUsPerAlert;
        runs[peer].push(r);
      }
    }
    const m = Object.fromEntries(Object.entries(runs).map(([peer, rs]) => [peer, mediansOf(rs, NUMERIC, { peer, runs: rs.length })]));
    // The ratio of medians of per-rep ratios would need paired runs; the reps are interleaved, so medians are compared.
    const ratio = m[OURS].ackedPerSec / m[CEILING].ackedPerSec;
    scenarios[`${THROUGHPUT_SCENARIO}-${transport}`] = { peers: m, oursOverCeiling: ratio };
    for (const r of Object.values(m)) {
      lines.push(`| ${transport} | ${r.peer} | ${fmt(r.ackedPerSec, 0)} | ${fmt(r.peerCpuUsPerAlert)} | ${fmt(r.mainCpuUsPerAlert)} | ${fmt(r.receiverCpuUsPerAlert)} | ${fmt(r.totalCpuUsPerAlert)} | ${fmt(r.cpuBoundPerSec, 0)}/s |`);
    }
    verdicts.push(`${transport}: ours ${fmt(ratio)}× the ceiling's throughput; our transmitter's CPU per alert ${fmt(m[OURS].peerCpuUsPerAlert / m[CEILING].peerCpuUsPerAlert)}× the ceiling's`);
  }
  lines.push('', ...verdicts, '');
  return { scenarios, lines };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { lines } = runThroughputScenario(Number(process.argv[2] ?? 3));
  process.stdout.write(`${lines.join('\n')}\n`);
}

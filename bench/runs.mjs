// Repetitions of one peer, each in a fresh process, and their medians: shared by the gRPC
// benchmark (run.mjs) and the classic outputs benchmark (outputs.mjs).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Runs `node script peer 'options JSON'` and returns the JSON report it prints last. */
export function runChild(script, peer, options) {
  const out = execFileSync(process.execPath, [script, peer, JSON.stringify(options)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out.trim().split('\n').pop());
}

export const get = (obj, path) => path.split('.').reduce((o, k) => o?.[k], obj);

export const set = (obj, path, v) => {
  const keys = path.split('.');
  const last = keys.pop();
  keys.reduce((o, k) => (o[k] ??= {}), obj)[last] = v;
};

export const median = (values) => {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b); // null: the peer cannot measure it
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The median of each of `paths` over `runs`, as one object of the same shape. */
export function mediansOf(runs, paths, into = {}) {
  for (const path of paths) set(into, path, median(runs.map((r) => get(r, path))));
  return into;
}

/** The run whose throughput is the median one: the run a chart shows. */
export function medianRun(runs) {
  const byThroughput = [...runs].sort((a, b) => a.throughputPerSec - b.throughputPerSec);
  return byThroughput[Math.floor(byThroughput.length / 2)];
}

export const fmt = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '—');

const CLK_TCK = 100;

/** User + system CPU seconds of a process (every thread), from /proc. */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

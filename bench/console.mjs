// The web console under a flood (`npm run bench -- --scenario console`, or `node bench/console.mjs`):
// `flood` sends 50,000 alerts/s for 10 s into a `receive` child process, once with no console and
// once with `--ui-listen` and a headless Chromium page open on it, repetitions interleaved. It
// reports the receiver's throughput and CPU per alert both ways, and how the page kept up: frame
// intervals, long tasks and its timer lag while the alerts streamed in.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../scripts/chromium.mjs';
import { fmt, median } from './runs.mjs';

export const CONSOLE_SCENARIO = 'console';
const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const RATE = 50_000;
const SECONDS = 10;
const CLK_TCK = 100;

/** User + system CPU seconds of a process, from /proc. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function startReceiver(sock, withConsole) {
  const args = [CLI, 'receive', '--listen', `unix://${sock}`, '--discard', ...(withConsole ? ['--ui-listen', '127.0.0.1:0'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const check = setInterval(() => {
      if (err.includes('listening on')) {
        clearInterval(check);
        resolve({ child, url: /console on (\S+)/.exec(err)?.[1] });
      } else if (child.exitCode !== null) {
        clearInterval(check);
        reject(new Error(`receiver exited: ${err}`));
      }
    }, 20);
  });
}

/** Starts recording frame intervals, long tasks and timer lag in the page. */
function watchPage() {
  const w = { frames: [], longTasks: [], lag: [], stop: false };
  window.__bench = w;
  let last = performance.now();
  const frame = (t) => {
    w.frames.push(t - last);
    last = t;
    if (!w.stop) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) w.longTasks.push(e.duration);
  }).observe({ type: 'longtask' });
  let expected = performance.now() + 50;
  const tick = () => {
    const now = performance.now();
    w.lag.push(Math.max(0, now - expected));
    expected = now + 50;
    if (!w.stop) setTimeout(tick, 50);
  };
  setTimeout(tick, 50);
}

function readPage() {
  const w = window.__bench;
  w.stop = true;
  const pct = (values, p) => {
    const s = [...values].sort((a, b) => a - b);
    return s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor(p * s.length))];
  };
  return {
    frames: w.frames.length,
    frameMs: { p50: pct(w.frames, 0.5), p99: pct(w.frames, 0.99), max: pct(w.frames, 1) },
    longTasks: w.longTasks.length,
    longTaskMs: w.longTasks.reduce((a, b) => a + b, 0),
    timerLagMs: { p99: pct(w.lag, 0.99), max: pct(w.lag, 1) },
    kept: Number((document.getElementById('shown')?.textContent ?? '').match(/of ([\d,]+) kept/)?.[1].replace(/,/g, '') ?? 0),
  };
}

async function runOnce(withConsole) {
  const dir = mkdtempSync(join(tmpdir(), 'fgo-bench-console-'));
  const sock = join(dir, 'r.sock');
  const receiver = await startReceiver(sock, withConsole);
  const browser = withConsole ? await launchChromium() : null;
  try {
    let page = null;
    if (browser) {
      page = await browser.context.newPage();
      await page.goto(receiver.url);
      await page.waitForSelector('#conn.live');
      await page.evaluate(watchPage);
    }
    const cpuBefore = cpuSeconds(receiver.child.pid);
    const out = execFileSync(process.execPath, [CLI, 'flood', '--target', `unix://${sock}`, '--rate', String(RATE), '--duration', String(SECONDS), '--json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 64 * 1024 * 1024,
    });
    const flood = JSON.parse(out.trim().split('\n').pop());
    const cpu = cpuSeconds(receiver.child.pid) - cpuBefore;
    const run = { withConsole, throughputPerSec: flood.throughputPerSec, acked: flood.acked, dropped: flood.dropped, receiverCpuUsPerAlert: (cpu * 1e6) / Math.max(1, flood.acked) };
    if (page) {
      run.page = await page.evaluate(readPage);
      const state = await (await fetch(`${receiver.url}api/state`)).json();
      run.streamed = state.stats.accepted - state.stream.skipped;
      run.skipped = state.stream.skipped;
    }
    return run;
  } finally {
    await browser?.close();
    receiver.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Repetitions of both modes, interleaved; medians and their ratio. */
export async function runConsoleScenario(reps) {
  const runs = { without: [], with: [] };
  for (let rep = 0; rep < reps; rep++) {
    for (const mode of ['without', 'with']) {
      process.stderr.write(`bench: console — ${RATE.toLocaleString('en-US')}/s for ${SECONDS} s, ${mode} a console page (run ${rep + 1}/${reps})\n`);
      runs[mode].push(await runOnce(mode === 'with'));
    }
  }
  const m = (mode, pick) => median(runs[mode].map(pick));
  const result = {
    scenario: `${RATE.toLocaleString('en-US')} alerts/s for ${SECONDS} s, receive with and without a console page open`,
    without: { throughputPerSec: m('without', (r) => r.throughputPerSec), receiverCpuUsPerAlert: m('without', (r) => r.receiverCpuUsPerAlert), dropped: m('without', (r) => r.dropped) },
    with: {
      throughputPerSec: m('with', (r) => r.throughputPerSec),
      receiverCpuUsPerAlert: m('with', (r) => r.receiverCpuUsPerAlert),
      dropped: m('with', (r) => r.dropped),
      streamed: m('with', (r) => r.streamed),
      skipped: m('with', (r) => r.skipped),
      frameMs: { p50: m('with', (r) => r.page.frameMs.p50), p99: m('with', (r) => r.page.frameMs.p99), max: m('with', (r) => r.page.frameMs.max) },
      longTasks: m('with', (r) => r.page.longTasks),
      longTaskMs: m('with', (r) => r.page.longTaskMs),
      timerLagMs: { p99: m('with', (r) => r.page.timerLagMs.p99), max: m('with', (r) => r.page.timerLagMs.max) },
    },
    runs,
  };
  result.throughputRatio = result.with.throughputPerSec / result.without.throughputPerSec;
  result.cpuRatio = result.with.receiverCpuUsPerAlert / result.without.receiverCpuUsPerAlert;
  const w = result.with;
  const lines = [
    `### ${result.scenario}`,
    '',
    '| console | acked/s | dropped | receiver CPU µs/alert | streamed to page | not streamed (counted) | page frame ms p50 / p99 / max | long tasks (total ms) | page timer lag ms p99 / max |',
    '|---|---|---|---|---|---|---|---|---|',
    `| none | ${fmt(result.without.throughputPerSec, 0)} | ${fmt(result.without.dropped, 0)} | ${fmt(result.without.receiverCpuUsPerAlert)} | — | — | — | — | — |`,
    `| page open | ${fmt(w.throughputPerSec, 0)} | ${fmt(w.dropped, 0)} | ${fmt(w.receiverCpuUsPerAlert)} | ${fmt(w.streamed, 0)} | ${fmt(w.skipped, 0)} | ${fmt(w.frameMs.p50, 1)} / ${fmt(w.frameMs.p99, 1)} / ${fmt(w.frameMs.max, 0)} | ${fmt(w.longTasks, 0)} (${fmt(w.longTaskMs, 0)}) | ${fmt(w.timerLagMs.p99, 1)} / ${fmt(w.timerLagMs.max, 0)} |`,
    '',
    `with the console open: throughput ${fmt(result.throughputRatio * 100, 1)} % of without (${Math.abs(1 - result.throughputRatio) <= 0.1 ? 'within' : 'NOT within'} 10 %), receiver CPU per alert ${fmt(result.cpuRatio, 2)}×`,
    '',
  ];
  return { scenarios: { [CONSOLE_SCENARIO]: result }, lines };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const reps = Number(process.argv[2] ?? 3);
  const { lines, scenarios } = await runConsoleScenario(reps);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(scenarios)}\n`);
}

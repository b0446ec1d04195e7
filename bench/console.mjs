// The web console under a flood (`npm run bench -- --scenario console`, or `node bench/console.mjs`):
// `flood` sends 50,000 alerts/s for 10 s into a `receive` child process three ways, repetitions
// interleaved: with no console; with `--ui-listen` and its event stream read by a plain HTTP
// client (what a browser on another machine costs the receiver); and with a headless Chromium
// page open on it, on this same machine. It reports the receiver's throughput and CPU per alert
// each way, and how the page kept up: frame intervals, long tasks and its timer lag.

import { spawn } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../scripts/chromium.mjs';
import { cpuSeconds, fmt, median } from './runs.mjs';

export const CONSOLE_SCENARIO = 'console';
const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const RATE = 50_000;
const SECONDS = 10;


/** CPU seconds of every process of one Chromium (found by its profile directory on the command line). */
function browserCpuSeconds(profile) {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(profile)) total += cpuSeconds(pid);
    } catch {
      // gone meanwhile
    }
  }
  return total;
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

/** Reads the console's event stream and throws it away, as a page elsewhere would receive it. */
function readStream(url) {
  let bytes = 0;
  const req = httpGet(`${url}api/events`, (res) => res.on('data', (d) => (bytes += d.length)));
  return { bytes: () => bytes, close: () => req.destroy() };
}

const MODES = { none: 'no console', stream: 'console, stream read by an HTTP client', page: 'console, Chromium page on this machine' };

async function runOnce(mode) {
  const dir = mkdtempSync(join(tmpdir(), 'fgo-bench-console-'));
  const sock = join(dir, 'r.sock');
  const receiver = await startReceiver(sock, mode !== 'none');
  const browser = mode === 'page' ? await launchChromium() : null;
  const reader = mode === 'stream' ? readStream(receiver.url) : null;
  try {
    let page = null;
    if (browser) {
      page = await browser.context.newPage();
      await page.goto(receiver.url);
      await page.waitForSelector('#conn.live');
      await page.evaluate(watchPage);
    }
    const cpuBefore = cpuSeconds(receiver.child.pid);
    const browserBefore = browser ? browserCpuSeconds(browser.profile) : 0;
    const started = Date.now();
    // Not execFileSync: this process's event loop must go on reading the console's stream.
    const out = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'flood', '--target', `unix://${sock}`, '--rate', String(RATE), '--duration', String(SECONDS), '--json'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.on('exit', (code) => (code === 0 || text.includes('{') ? resolve(text) : reject(new Error(`flood exited with ${code}`))));
    });
    const flood = JSON.parse(out.trim().split('\n').pop());
    const cpu = cpuSeconds(receiver.child.pid) - cpuBefore;
    const run = { mode, throughputPerSec: flood.throughputPerSec, acked: flood.acked, dropped: flood.dropped, receiverCpuUsPerAlert: (cpu * 1e6) / Math.max(1, flood.acked) };
    if (page) {
      // CPU, not wall time: on a loaded machine a starved page's tasks last long without working more.
      run.page = { ...(await page.evaluate(readPage)), cpuMsPerSec: ((browserCpuSeconds(browser.profile) - browserBefore) * 1000) / ((Date.now() - started) / 1000) };
    }
    if (mode !== 'none') {
      const state = await (await fetch(`${receiver.url}api/state`)).json();
      run.skipped = state.stream.skipped + state.stream.waiting;
      run.streamed = state.stats.accepted - run.skipped;
    }
    return run;
  } finally {
    reader?.close();
    await browser?.close();
    receiver.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Repetitions of every mode, interleaved; medians and their ratios to no console. */
export async function runConsoleScenario(reps) {
  const runs = { none: [], stream: [], page: [] };
  for (let rep = 0; rep < reps; rep++) {
    for (const mode of Object.keys(MODES)) {
      process.stderr.write(`bench: console — ${RATE.toLocaleString('en-US')}/s for ${SECONDS} s, ${MODES[mode]} (run ${rep + 1}/${reps})\n`);
      runs[mode].push(await runOnce(mode));
    }
  }
  const m = (mode, pick) => median(runs[mode].map(pick));
  const summary = (mode) => ({
    throughputPerSec: m(mode, (r) => r.throughputPerSec),
    receiverCpuUsPerAlert: m(mode, (r) => r.receiverCpuUsPerAlert),
    dropped: m(mode, (r) => r.dropped),
    ...(mode === 'none' ? {} : { streamed: m(mode, (r) => r.streamed), skipped: m(mode, (r) => r.skipped) }),
  });
  const result = { scenario: `${RATE.toLocaleString('en-US')} alerts/s for ${SECONDS} s into receive, with and without the console`, none: summary('none'), stream: summary('stream'), page: summary('page'), runs };
  const p = (pick) => m('page', (r) => pick(r.page));
  result.page.frameMs = { p50: p((x) => x.frameMs.p50), p99: p((x) => x.frameMs.p99), max: p((x) => x.frameMs.max) };
  result.page.longTasks = p((x) => x.longTasks);
  result.page.longTaskMs = p((x) => x.longTaskMs);
  result.page.timerLagMs = { p99: p((x) => x.timerLagMs.p99), max: p((x) => x.timerLagMs.max) };
  result.page.browserCpuMsPerSec = p((x) => x.cpuMsPerSec);
  for (const mode of ['stream', 'page']) {
    result[mode].throughputRatio = result[mode].throughputPerSec / result.none.throughputPerSec;
    result[mode].cpuRatio = result[mode].receiverCpuUsPerAlert / result.none.receiverCpuUsPerAlert;
  }
  const row = (mode) => {
    const r = result[mode];
    const pg = mode === 'page' ? `${fmt(r.frameMs.p50, 1)} / ${fmt(r.frameMs.p99, 1)} / ${fmt(r.frameMs.max, 0)} | ${fmt(r.longTasks, 0)} (${fmt(r.longTaskMs, 0)}) | ${fmt(r.timerLagMs.p99, 1)} / ${fmt(r.timerLagMs.max, 0)} | ${fmt(r.browserCpuMsPerSec, 0)}` : '— | — | — | —';
    return `| ${MODES[mode]} | ${fmt(r.throughputPerSec, 0)} | ${fmt(r.dropped, 0)} | ${fmt(r.receiverCpuUsPerAlert)} | ${mode === 'none' ? '—' : fmt(r.streamed, 0)} | ${mode === 'none' ? '—' : fmt(r.skipped, 0)} | ${pg} |`;
  };
  const verdict = (mode) => {
    const r = result[mode];
    return `${MODES[mode]}: throughput ${fmt(r.throughputRatio * 100, 1)} % of no console (${Math.abs(1 - r.throughputRatio) <= 0.1 ? 'within' : 'NOT within'} 10 %), receiver CPU per alert ${fmt(r.cpuRatio, 2)}×`;
  };
  const lines = [
    `### ${result.scenario}`,
    '',
    '| mode | acked/s | dropped | receiver CPU µs/alert | streamed | not streamed (counted) | page frame ms p50 / p99 / max | long tasks (total ms) | page timer lag ms p99 / max | Chromium CPU ms/s |',
    '|---|---|---|---|---|---|---|---|---|---|',
    row('none'),
    row('stream'),
    row('page'),
    '',
    verdict('stream'),
    verdict('page'),
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

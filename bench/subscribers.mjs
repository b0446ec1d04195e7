// A subscriber at ingestion speed (`npm run bench -- --scenario subscribers`): `flood` sends the
// reference alert at 100,000/s for 10 s into a `receive --discard` child over a unix socket while
// a subscriber process (subscriber-peer.mjs) reads falco.outputs.service/sub: a grpc-js client, and
// a raw HTTP/2 one that takes the client's own per-message cost away. The ratio is what the
// subscriber received over what the receiver accepted; what it missed, the receiver counted as
// dropped from that subscriber's queue. Each repetition fresh processes, clients interleaved; medians.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, fmt, median } from './runs.mjs';

export const SUBSCRIBERS_SCENARIO = 'subscribers';
const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const SUBSCRIBER = fileURLToPath(new URL('./subscriber-peer.mjs', import.meta.url));
const RATE = 100_000;
const SECONDS = 10;
// 'none': the same flood with no subscriber, the receiver's own cost to compare with.
const CLIENTS = ['none', 'grpc-js', 'http2'];


/** The lines of a child's stream; `next(pred)` takes the first unread line that matches, now or when it comes. */
function lines(stream) {
  const waiting = [];
  const seen = [];
  createInterface({ input: stream }).on('line', (line) => {
    const w = waiting.find((x) => x.pred(line));
    if (!w) return void seen.push(line);
    waiting.splice(waiting.indexOf(w), 1);
    w.resolve(line);
  });
  return {
    next: (pred) => new Promise((resolve) => {
      const old = seen.find(pred);
      if (old === undefined) return void waiting.push({ pred, resolve });
      seen.splice(seen.indexOf(old), 1);
      resolve(old);
    }),
  };
}

async function runOnce(client) {
  const dir = mkdtempSync(join(tmpdir(), 'fgo-bench-subs-'));
  const target = `unix://${join(dir, 'r.sock')}`;
  const receiver = spawn(process.execPath, [CLI, 'receive', '--discard', '--control-stdin', '--listen', target], { stdio: ['pipe', 'ignore', 'pipe'] });
  const rx = lines(receiver.stderr);
  const stats = async () => {
    const line = rx.next((l) => l.startsWith('stats '));
    receiver.stdin.write('stats\n');
    return JSON.parse((await line).slice('stats '.length));
  };
  let subscriber;
  try {
    await rx.next((l) => l.includes('listening on'));
    const sub = client === 'none' ? null : lines((subscriber = spawn(process.execPath, [SUBSCRIBER, target, client], { stdio: ['pipe', 'pipe', 'inherit'] })).stdout);
    if (sub) {
      await sub.next((l) => l.includes('subscribed'));
      while ((await stats()).subscribers < 1) await new Promise((r) => setTimeout(r, 50));
    }
    const rxCpu0 = cpuSeconds(receiver.pid);
    const flood = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'flood', '--target', target, '--rate', String(RATE), '--duration', String(SECONDS), '--json'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.on('exit', (code) => (text.includes('{') ? resolve(JSON.parse(text.trim().split('\n').pop())) : reject(new Error(`flood exited with ${code}`))));
    });
    const rxCpu = cpuSeconds(receiver.pid) - rxCpu0;
    // What is still on its way to the subscriber arrives within a moment once the flood is over.
    let received = NaN;
    let subscriberCpuUsPerAlert = NaN;
    for (let settled = 0; sub && settled < 5; ) {
      await new Promise((r) => setTimeout(r, 200));
      const count = sub.next((l) => l.includes('received'));
      subscriber.stdin.write('count\n');
      const reply = JSON.parse(await count);
      const now = reply.received;
      subscriberCpuUsPerAlert = reply.cpuUsPerAlert;
      settled = now === received ? settled + 1 : 0;
      received = now;
    }
    const s = await stats();
    return {
      client,
      offeredPerSec: RATE,
      ackedPerSec: flood.throughputPerSec,
      accepted: s.accepted,
      received,
      subscriberDrops: s.subscriberDrops,
      ratio: received / Math.max(1, s.accepted),
      receiverCpuUsPerAlert: (rxCpu * 1e6) / Math.max(1, s.accepted),
      subscriberCpuUsPerAlert,
    };
  } finally {
    subscriber?.kill('SIGKILL');
    receiver.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runSubscribersScenario(reps) {
  const runs = Object.fromEntries(CLIENTS.map((c) => [c, []]));
  for (let rep = 0; rep < reps; rep++) {
    for (const client of CLIENTS) {
      process.stderr.write(`bench: a ${client} subscriber at ${RATE.toLocaleString('en-US')}/s for ${SECONDS} s (run ${rep + 1}/${reps})\n`);
      runs[client].push(await runOnce(client));
    }
  }
  const results = Object.fromEntries(
    CLIENTS.map((c) => {
      const numeric = Object.keys(runs[c][0]).filter((k) => typeof runs[c][0][k] === 'number');
      return [c, { client: c, ...Object.fromEntries(numeric.map((k) => [k, median(runs[c].map((r) => r[k]))])), runs: runs[c] }];
    }),
  );
  const lines = [
    `### a subscriber at ${RATE.toLocaleString('en-US')} alerts/s for ${SECONDS} s (unix socket, medians of ${reps})`,
    '',
    '| subscriber client | acked/s | accepted | subscriber received | dropped from its queue | received / accepted | receiver CPU µs/alert | subscriber CPU µs/alert |',
    '|---|---|---|---|---|---|---|---|',
    ...Object.values(results).map(
      (r) => `| ${r.client} | ${fmt(r.ackedPerSec, 0)} | ${fmt(r.accepted, 0)} | ${fmt(r.received, 0)} | ${fmt(r.subscriberDrops, 0)} | ${fmt(r.ratio, 3)} | ${fmt(r.receiverCpuUsPerAlert)} | ${fmt(r.subscriberCpuUsPerAlert)} |`,
    ),
    '',
  ];
  return { scenarios: { [SUBSCRIBERS_SCENARIO]: results }, lines };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { lines: out } = await runSubscribersScenario(Number(process.argv[2] ?? 3));
  process.stdout.write(`${out.join('\n')}\n`);
}

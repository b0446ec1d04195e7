// npm run bench -- --scenario scale: alerts made durable on NATS JetStream through 1, 2 and 3
// `receive --nats` processes (mTLS, one `flood` transmitter each at max rate), beside the bare
// publishers in the same run: nats.js publishing straight to the stream (the ceiling), with the
// receiver's windowed technique and with pipelined js.publish(). CPU per alert of the receivers
// and of nats-server from /proc; emit→durable latency (flood's emit→ack) at a paced rate.

import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDevPki } from '../dist/src/certs/dev-pki.js';
import { fmt, median } from './runs.mjs';

export const SCALE_SCENARIO = 'scale';
const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const BARE = fileURLToPath(new URL('./peers/bus-publisher.mjs', import.meta.url));
const SECONDS = 6;
const PACED_RATE = 10_000;
const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** utime + stime of a process (all its threads), in µs. */
function cpuUs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function natsBinary() {
  for (const p of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    try {
      execFileSync(p, ['--version']);
      return p;
    } catch {
      // next
    }
  }
  return 'nats-server';
}

/** A process started with `args` that is ready once its output includes `ready`. */
async function startProcess(cmd, args, ready) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const deadline = Date.now() + 20_000;
  while (!out.includes(ready)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${cmd} did not start:\n${out}`);
    await sleep(20);
  }
  return { child, output: () => out, stop: () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', resolve), child.kill('SIGTERM')))) };
}

function runJson(cmd, args) {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const last = stdout.trim().split('\n').pop();
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${args.join(' ')}: ${err?.message ?? ''}\n${stderr}`));
      }
    }),
  );
}

async function createStream(url, name, prefix) {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: url });
  await (await jetstreamManager(nc)).streams.add({ name, subjects: [`${prefix}.>`], storage: 'file', duplicate_window: 120e9, max_bytes: 1024 ** 3 });
  await nc.close();
}

/** One repetition: the bare publishers, then 1..3 receivers at max rate, then one receiver paced. */
async function oneRun(pkiDir, rep) {
  const store = mkdtempSync(join(tmpdir(), 'fgo-bench-nats-'));
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const nats = await startProcess(natsBinary(), ['-js', '-sd', store, '-a', '127.0.0.1', '-p', String(port)], 'Server is ready');
  const result = { bare: {}, receivers: {} };
  try {
    for (const mode of ['core', 'jspublish']) {
      const stream = `BARE_${mode.toUpperCase()}_${rep}`;
      await createStream(url, stream, 'falco.alerts');
      const before = cpuUs(nats.child.pid);
      const r = await runJson(process.execPath, [BARE, mode, url, stream, String(SECONDS), '4096']);
      r.natsCpuUsPerMsg = (cpuUs(nats.child.pid) - before) / r.acked;
      result.bare[mode] = r;
      await deleteStream(url, stream);
    }
    const tlsFlags = ['--tls-ca', join(pkiDir, 'ca.crt'), '--tls-cert', join(pkiDir, 'client.crt'), '--tls-key', join(pkiDir, 'client.key')];
    const serverTls = ['--tls-ca', join(pkiDir, 'ca.crt'), '--tls-cert', join(pkiDir, 'server.crt'), '--tls-key', join(pkiDir, 'server.key')];
    for (const [label, count, rate] of [['1', 1, 'max'], ['2', 2, 'max'], ['3', 3, 'max'], [`1 paced ${PACED_RATE}/s`, 1, String(PACED_RATE)]]) {
      const stream = `SCALE_${rep}_${label.replace(/\W+/g, '_')}`;
      const receivers = [];
      for (let i = 0; i < count; i++) {
        // Ingest only (grpc_output.enabled: false): with subscriptions on, each receiver also reads every alert back from the stream for sub.
        receivers.push(await startProcess(process.execPath, [CLI, 'receive', '--config', join(pkiDir, 'ingest-only.yaml'), '--listen', '127.0.0.1:0', ...serverTls, '--nats', url, '--nats-stream', stream, '--nats-subject-prefix', `${stream.toLowerCase()}.alerts`], 'listening on'));
      }
      const addrs = receivers.map((r) => /listening on (\S+)/.exec(r.output())[1]);
      const cpu0 = receivers.map((r) => cpuUs(r.child.pid));
      const nats0 = cpuUs(nats.child.pid);
      const floods = await Promise.all(addrs.map((addr) => runJson(process.execPath, [CLI, 'flood', '--target', addr, ...tlsFlags, '--rate', rate, '--duration', String(SECONDS), '--json'])));
      const receiverCpu = receivers.reduce((sum, r, i) => sum + cpuUs(r.child.pid) - cpu0[i], 0);
      const natsCpu = cpuUs(nats.child.pid) - nats0;
      const acked = floods.reduce((n, f) => n + f.acked, 0);
      result.receivers[label] = {
        receivers: count,
        durablePerSec: floods.reduce((n, f) => n + f.throughputPerSec, 0),
        acked,
        dropped: floods.reduce((n, f) => n + f.dropped, 0),
        receiverCpuUsPerAlert: receiverCpu / acked,
        natsCpuUsPerAlert: natsCpu / acked,
        latencyMs: { p50: median(floods.map((f) => f.deliveryMs.p50)), p99: Math.max(...floods.map((f) => f.deliveryMs.p99)) },
      };
      for (const r of receivers) await r.stop();
      await deleteStream(url, stream);
    }
  } finally {
    await nats.stop();
    rmSync(store, { recursive: true, force: true });
  }
  return result;
}

async function deleteStream(url, name) {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: url });
  await (await jetstreamManager(nc)).streams.delete(name).catch(() => {});
  await nc.close();
}

/** Runs the scale scenario `reps` times; medians of every number. */
export async function runScaleScenario(reps) {
  const pki = createDevPki();
  const pkiDir = mkdtempSync(join(tmpdir(), 'fgo-bench-pki-'));
  for (const [name, pem] of Object.entries({ 'ca.crt': pki.caCert, 'server.crt': pki.serverCert, 'server.key': pki.serverKey, 'client.crt': pki.clientCert, 'client.key': pki.clientKey })) {
    writeFileSync(join(pkiDir, name), pem, { mode: 0o600 });
  }
  writeFileSync(join(pkiDir, 'ingest-only.yaml'), 'grpc_output:\n  enabled: false\n');
  const runs = [];
  for (let rep = 0; rep < reps; rep++) {
    process.stderr.write(`bench: scale — run ${rep + 1}/${reps}\n`);
    runs.push(await oneRun(pkiDir, rep));
  }
  const med = (pick) => median(runs.map(pick));
  const bare = Object.fromEntries(['core', 'jspublish'].map((m) => [m, {
    perSec: med((r) => r.bare[m].perSec),
    cpuUsPerMsg: med((r) => r.bare[m].cpuUsPerMsg),
    natsCpuUsPerMsg: med((r) => r.bare[m].natsCpuUsPerMsg),
    latencyMs: { p50: med((r) => r.bare[m].latencyMs.p50), p99: med((r) => r.bare[m].latencyMs.p99) },
  }]));
  const receivers = Object.fromEntries(Object.keys(runs[0].receivers).map((label) => [label, {
    durablePerSec: med((r) => r.receivers[label].durablePerSec),
    dropped: med((r) => r.receivers[label].dropped),
    receiverCpuUsPerAlert: med((r) => r.receivers[label].receiverCpuUsPerAlert),
    natsCpuUsPerAlert: med((r) => r.receivers[label].natsCpuUsPerAlert),
    latencyMs: { p50: med((r) => r.receivers[label].latencyMs.p50), p99: med((r) => r.receivers[label].latencyMs.p99) },
  }]));
  const ratio = receivers['1'].durablePerSec / bare.core.perSec;
  const lines = [
    `### scale: durable on NATS JetStream (nats-server ${execFileSync(natsBinary(), ['--version'], { encoding: 'utf8' }).trim().replace(/^nats-server: /, '')}, file storage, 650-byte alerts, Nats-Msg-Id each; ${SECONDS} s runs, medians of ${reps})`,
    '',
    '| path | durable alerts/s | dropped | client or receiver CPU µs/alert | nats-server CPU µs/alert | emit→durable ms p50 / p99 |',
    '|---|---|---|---|---|---|',
    `| bare nats.js, windowed core publishes (ceiling) | ${fmt(bare.core.perSec, 0)} | 0 | ${fmt(bare.core.cpuUsPerMsg, 1)} | ${fmt(bare.core.natsCpuUsPerMsg, 1)} | ${fmt(bare.core.latencyMs.p50)} / ${fmt(bare.core.latencyMs.p99)} (publish→PubAck) |`,
    `| bare nats.js, pipelined js.publish() | ${fmt(bare.jspublish.perSec, 0)} | 0 | ${fmt(bare.jspublish.cpuUsPerMsg, 1)} | ${fmt(bare.jspublish.natsCpuUsPerMsg, 1)} | ${fmt(bare.jspublish.latencyMs.p50)} / ${fmt(bare.jspublish.latencyMs.p99)} (publish→PubAck) |`,
    ...Object.entries(receivers).map(([label, r]) => `| ${label} receiver(s) over mTLS (ingest only), one flood ${label.includes('paced') ? '' : 'at max rate '}each | ${fmt(r.durablePerSec, 0)} | ${fmt(r.dropped, 0)} | ${fmt(r.receiverCpuUsPerAlert, 1)} | ${fmt(r.natsCpuUsPerAlert, 1)} | ${fmt(r.latencyMs.p50)} / ${fmt(r.latencyMs.p99)} |`),
    '',
    `one receiver over mTLS: ${fmt(ratio, 2)}× the bare publisher's rate (target ≥ 0.8×)`,
    '',
  ];
  return { scenarios: { scale: { bare, receivers, oneReceiverVsBare: ratio } }, lines };
}

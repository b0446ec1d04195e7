// Scale-out on NATS JetStream, end to end: real nats-server, receivers in child processes over
// real mTLS, producers through the library with every receiver as a target. Receivers and the bus
// are killed mid-stream; the stream is read back with nats.js and must hold every alert once per
// producer:seq, in order per producer, field for field.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { createGrpcOutput, createReceiver, decodeAlert, type GrpcOutput, type Receiver } from '../dist/src/index.js';
import { BusLink } from '../dist/src/bus/link.js';
import { AlertEncoder } from '../dist/src/codec/alert.js';
import { CLI, matchesNumbered, numberedAlert, parseExact, startReceiverProcess, subscriberProcess, waitFor, type ReceiverProcess } from './helpers/harness.js';
import { clientTls, serverTls, tempDir, writePki } from './helpers/pki.js';
import { freePort, NatsServer, readStream, type StreamMessage } from './helpers/nats.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** waitFor with a check that may be async (a gRPC call, a subscriber's report). */
async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

async function nats(options?: Parameters<typeof NatsServer.start>[0]): Promise<NatsServer> {
  const server = await NatsServer.start(options);
  cleanups.push(() => server.kill());
  return server;
}

/** A `receive --nats` child on a fixed port, so a restart takes the same address. */
class ReceiverChild {
  proc: ReceiverProcess | null = null;
  constructor(
    readonly port: number,
    private readonly args: string[],
  ) {
    cleanups.push(() => this.proc?.child.kill('SIGKILL'));
  }
  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.proc = await startReceiverProcess(['--listen', this.addr, ...this.args]);
  }
  async kill(signal: NodeJS.Signals): Promise<void> {
    const proc = this.proc!;
    proc.child.kill(signal);
    await proc.exited;
  }
}

function tlsArgs(dir: string): string[] {
  return ['--tls-ca', join(dir, 'ca.crt'), '--tls-cert', join(dir, 'server.crt'), '--tls-key', join(dir, 'server.key')];
}

async function receivers(count: number, natsUrl: string, extra: string[] = []): Promise<ReceiverChild[]> {
  const dir = writePki();
  const out: ReceiverChild[] = [];
  for (let i = 0; i < count; i++) {
    const r = new ReceiverChild(await freePort(), [...tlsArgs(dir), '--nats', natsUrl, ...extra]);
    await r.start();
    out.push(r);
  }
  return out;
}

function producer(targets: string[], producerId: string): GrpcOutput {
  const output = createGrpcOutput({ target: targets, tls: clientTls(), producerId, reconnectInitialMs: 50, reconnectMaxMs: 1000, log: () => {} });
  cleanups.push(() => output.close(1000));
  return output;
}

/** Emits numberedAlert(from..to-1) in small steps, so that the run spans the faults injected meanwhile. */
async function emitPaced(output: GrpcOutput, from: number, to: number, step = 200, pauseMs = 40): Promise<void> {
  for (let i = from; i < to; i++) {
    if (!output.emit(numberedAlert(i))) throw new Error(`alert ${i} dropped: ${JSON.stringify(output.stats().drops)}`);
    if ((i - from) % step === step - 1) await sleep(pauseMs);
  }
}

/**
 * Each producer's messages on the stream must be exactly seq 1..n, in order, each numberedAlert(seq - 1) on its
 * priority's subject. On the wire a producer is `<producerId>#<8 hex>`, one suffix per transmitter: a producer that
 * lives through the whole run (failovers included) shows exactly one.
 */
function checkStream(messages: readonly StreamMessage[], producers: readonly string[], n: number): void {
  const byProducer = new Map<string, StreamMessage[]>(producers.map((p) => [p, []]));
  const wireIds = new Map<string, Set<string>>(producers.map((p) => [p, new Set()]));
  for (const m of messages) {
    const [wireId, seq] = m.msgId!.split(':');
    const id = wireId!.replace(/#[0-9a-f]{8}$/, '');
    expect(byProducer.has(id), `unknown producer in ${m.msgId}`).toBe(true);
    wireIds.get(id)!.add(wireId!);
    byProducer.get(id)!.push({ ...m, seq: Number(seq) });
  }
  for (const [id, seen] of wireIds) expect([...seen].length, `producer ${id}: one wire id (${[...seen].join(', ')})`).toBe(1);
  for (const [id, list] of byProducer) {
    expect(list.map((m) => m.seq), `producer ${id}: every seq once, in order`).toEqual(range(1, n + 1));
    for (const m of list) {
      const i = m.seq - 1;
      if (!matchesNumbered(decodeAlert(m.data), i)) throw new Error(`producer ${id} seq ${m.seq}: not alert #${i}`);
      expect(m.subject).toBe(i % 2 === 0 ? 'falco.alerts.notice' : 'falco.alerts.warning');
    }
  }
}

function unary(client: grpc.Client, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (err, res) => (err ? reject(err) : resolve(res!))),
  );
}

function grpcClient(addr: string): grpc.Client {
  const t = clientTls();
  const client = new grpc.Client(addr, grpc.credentials.createSsl(Buffer.from(t.ca), Buffer.from(t.key), Buffer.from(t.cert)));
  cleanups.push(() => client.close());
  return client;
}

/** grpc.health.v1 Check for the server: SERVING is 08 01, NOT_SERVING 08 02. */
async function health(client: grpc.Client): Promise<'SERVING' | 'NOT_SERVING' | string> {
  const res = await unary(client, '/grpc.health.v1.Health/Check');
  return res[1] === 1 ? 'SERVING' : res[1] === 2 ? 'NOT_SERVING' : `status ${res[1]}`;
}

describe('scale-out: receivers on one JetStream', () => {
  it('three receivers, four producers targeting all: each receiver SIGKILLed in turn and nats-server restarted mid-stream; the stream holds every alert once, in order, field for field', async () => {
    const bus = await nats();
    const rs = await receivers(3, bus.url);
    const targets = rs.map((r) => r.addr);
    const ids = ['p0', 'p1', 'p2', 'p3'];
    const outputs = ids.map((id) => producer(targets, id));
    const n = 6000;
    const emitting = Promise.all(outputs.map((o) => emitPaced(o, 0, n)));
    const chaos = (async () => {
      for (const r of rs) {
        await sleep(600);
        await r.kill('SIGKILL');
        await sleep(300);
        await r.start();
      }
      await sleep(400);
      await bus.stop(); // SIGTERM: nats-server shuts down
      await sleep(500);
      await bus.restart();
    })();
    await Promise.all([emitting, chaos]);
    for (const o of outputs) expect(await o.flush(60_000)).toMatchObject({ flushed: true, pending: 0 });
    for (const o of outputs) expect(o.stats()).toMatchObject({ emitted: n, acked: n, dropped: 0 });
    // The faults were felt: producers reconnected and resent.
    expect(outputs.reduce((sum, o) => sum + o.stats().reconnects, 0)).toBeGreaterThanOrEqual(3);
    checkStream(await readStream(bus.url, 'FALCO_ALERTS'), ids, n);
  });

  it('subscribers (streaming, polling) on different replicas each get every alert in stream order; get on each replica returns the retained alerts; a frozen subscriber loses only its own oldest', async () => {
    const bus = await nats();
    const make = async (queue: number): Promise<{ receiver: Receiver; addr: string }> => {
      const receiver = createReceiver({ listen: ['127.0.0.1:0'], tls: serverTls(), nats: { servers: [bus.url] }, subscriptions: { queueAlerts: queue }, log: () => {} });
      cleanups.push(() => receiver.close());
      const [addr] = await receiver.start();
      return { receiver, addr: addr! };
    };
    const a = await make(10_000);
    const b = await make(6000);
    const dir = writePki();
    const subs = await Promise.all([
      subscriberProcess(a.addr, ['--tls-dir', dir], (fn) => cleanups.push(fn)),
      subscriberProcess(b.addr, ['--tls-dir', dir, '--poll-ms', '50'], (fn) => cleanups.push(fn)),
      subscriberProcess(b.addr, ['--tls-dir', dir], (fn) => cleanups.push(fn)),
    ]);
    const frozen = await subscriberProcess(b.addr, ['--tls-dir', dir], (fn) => cleanups.push(fn));
    await waitFor('subscribers on both replicas', () => a.receiver.stats().subscribers === 1 && b.receiver.stats().subscribers === 3);
    frozen.child.kill('SIGSTOP');
    cleanups.push(() => frozen.child.kill('SIGCONT'));
    // Each producer reaches one replica only; subscribers on both must still see both producers.
    const pa = producer([a.addr], 'to-a');
    const pb = producer([b.addr], 'to-b');
    // Paced so that subscribers which keep reading stay well within their 6,000-alert queues.
    await Promise.all([emitPaced(pa, 0, 6000, 100, 60), emitPaced(pb, 6000, 12000, 100, 60)]);
    expect(await pa.flush(30_000)).toMatchObject({ flushed: true });
    expect(await pb.flush(30_000)).toMatchObject({ flushed: true });
    const stream = await readStream(bus.url, 'FALCO_ALERTS');
    const streamOrder = stream.map((m) => Number(decodeAlert(m.data).outputFields['seq']));
    expect([...streamOrder].sort((x, y) => x - y)).toEqual(range(0, 12000));
    for (const s of subs) {
      await waitUntil('every alert at a subscriber', async () => (await s.seqs()).length >= 12000, 60_000);
      expect(await s.seqs()).toEqual(streamOrder);
    }
    // The frozen one fell behind by more than its queue: only it lost alerts, its oldest.
    const perSub = b.receiver.subscriberStats();
    expect(perSub.filter((s) => s.dropped > 0)).toHaveLength(1);
    expect(a.receiver.stats().subscriberDrops).toBe(0);
    // get: the stream's last --history (10,000) alerts, in stream order, on either replica.
    for (const r of [a, b]) expect(await getSeqs(r.addr)).toEqual(streamOrder.slice(-10_000));
  });

  it('--min-priority filters what subscribers get by subject, while the bus keeps every alert', async () => {
    const bus = await nats();
    const receiver = createReceiver({ listen: ['127.0.0.1:0'], tls: serverTls(), nats: { servers: [bus.url] }, minPriority: 'warning', log: () => {} });
    cleanups.push(() => receiver.close());
    const [addr] = await receiver.start();
    const sub = await subscriberProcess(addr!, ['--tls-dir', writePki()], (fn) => cleanups.push(fn));
    await waitFor('subscribed', () => receiver.stats().subscribers === 1);
    const p = producer([addr!], 'filtered');
    await emitPaced(p, 0, 1000);
    expect(await p.flush(30_000)).toMatchObject({ flushed: true });
    const odd = range(0, 1000).filter((i) => i % 2 === 1); // numberedAlert: odd are Warning, even are Notice
    await waitUntil('warnings at the subscriber', async () => (await sub.seqs()).length >= odd.length);
    expect(await sub.seqs()).toEqual(odd);
    expect(await getSeqs(addr!)).toEqual(odd);
    expect(await readStream(bus.url, 'FALCO_ALERTS')).toHaveLength(1000);
  });
  it('get from the bus counts against --max-subscribers like any subscription stream', async () => {
    const bus = await nats();
    const receiver = createReceiver({ listen: ['127.0.0.1:0'], tls: serverTls(), nats: { servers: [bus.url] }, subscriptions: { maxSubscribers: 1 }, log: () => {} });
    cleanups.push(() => receiver.close());
    const [addr] = await receiver.start();
    const p = producer([addr!], 'capped');
    await emitPaced(p, 0, 100);
    expect(await p.flush(30_000)).toMatchObject({ flushed: true });
    const sub = await subscriberProcess(addr!, ['--tls-dir', writePki()], (fn) => cleanups.push(fn));
    await waitFor('subscribed', () => receiver.stats().subscribers === 1);
    await expect(getSeqs(addr!)).rejects.toMatchObject({ code: 8, details: '1 subscription streams are open, the limit (--max-subscribers 1)' });
    sub.child.kill('SIGKILL');
    await waitFor('the subscriber gone', () => receiver.stats().subscribers === 0);
    expect(await getSeqs(addr!)).toEqual(range(0, 100));
    expect(receiver.stats().refusedSubscribers).toBe(1);
  });
});

describe('scale-out: the bus failing', () => {
  it('bus down at start: NOT_SERVING and nothing acked; once nats-server is up the receiver serves and every alert is on the stream once', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const [r] = await receivers(1, url);
    const client = grpcClient(r!.addr);
    expect(await health(client)).toBe('NOT_SERVING');
    expect(r!.proc!.stderr()).toContain(`cannot connect to NATS ${url}`);
    const p = producer([r!.addr], 'early');
    await emitPaced(p, 0, 500);
    await sleep(1000);
    await waitFor('the refusal', () => (p.stats().lastError ?? '').includes("receiver's bus is not ready"));
    expect(p.stats()).toMatchObject({ acked: 0, pending: 500 });
    const late = await nats({ port });
    await waitUntil('SERVING', async () => (await health(client)) === 'SERVING');
    expect(await p.flush(30_000)).toMatchObject({ flushed: true });
    checkStream(await readStream(late.url, 'FALCO_ALERTS'), ['early'], 500);
  });

  it('bus lost mid-run: NOT_SERVING and no ack while it is gone; after it returns every alert is on the stream once, in order', async () => {
    const bus = await nats();
    const [r] = await receivers(1, bus.url);
    const client = grpcClient(r!.addr);
    const p = producer([r!.addr], 'mid');
    await emitPaced(p, 0, 1000);
    expect(await p.flush(30_000)).toMatchObject({ flushed: true });
    await bus.kill();
    await waitUntil('NOT_SERVING', async () => (await health(client)) === 'NOT_SERVING');
    await emitPaced(p, 1000, 2000);
    await sleep(1000);
    expect(p.stats().acked).toBe(1000);
    await bus.restart();
    await waitUntil('SERVING again', async () => (await health(client)) === 'SERVING');
    expect(await p.flush(30_000)).toMatchObject({ flushed: true });
    expect(p.stats()).toMatchObject({ emitted: 2000, acked: 2000 });
    checkStream(await readStream(bus.url, 'FALCO_ALERTS'), ['mid'], 2000);
  });

  it('wrong NATS credentials and a conflicting stream stop receive before it listens, saying what to fix', async () => {
    const guarded = await nats({ config: 'authorization { user: falco, password: right }' });
    const wrong = await runReceive(['--listen', '127.0.0.1:0', '--insecure', '--nats', guarded.url, '--nats-user', 'falco'], { FALCO_GRPC_OUTPUT_NATS_PASSWORD: 'wrong' });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`NATS ${guarded.url} refused the credentials (Authorization Violation)`);
    expect(wrong.stderr).not.toContain('listening on');

    const bus = await nats();
    const nc = await connect({ servers: bus.url });
    await (await jetstreamManager(nc)).streams.add({ name: 'FALCO_ALERTS', subjects: ['falco.alerts.>'], storage: StorageType.Memory });
    await nc.close();
    const clash = await runReceive(['--listen', '127.0.0.1:0', '--insecure', '--nats', bus.url, '--nats-replicas', '3']);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain('stream FALCO_ALERTS exists with a conflicting config: storage is memory, alerts need file storage to be durable');
    expect(clash.stderr).toContain('num_replicas is 1, asked for 3 (replicas)');
  });
});

describe('consume: a durable consumer into the classic outputs', () => {
  const total = 20_000;

  /** Fills the stream with `total` alerts from one producer "c", seq 1..total. */
  async function filledBus(): Promise<NatsServer> {
    const bus = await nats();
    const link = new BusLink({ servers: [bus.url], log: () => {} });
    await link.start();
    const encoder = new AlertEncoder(64 * 1024);
    for (let from = 0; from < total; from += 1000) {
      const alerts = range(from, from + 1000).map((i) => Buffer.from(encoder.scratch.subarray(0, encoder.encode(numberedAlert(i)))));
      const outcome = await link.publisher!.publishRun('c', alerts, alerts.map((_, k) => ((from + k) % 2 === 0 ? 5 : 4)), (k) => from + k + 1);
      expect(outcome.error).toBeNull();
    }
    await link.close();
    return bus;
  }

  function consumeProcess(url: string, durable: string, file: string): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string } {
    const config = join(tempDir(), 'falco.yaml');
    writeFileSync(config, `json_output: true\nstdout_output:\n  enabled: false\nfile_output:\n  enabled: true\n  filename: ${file}\n`);
    const child = spawn(process.execPath, [CLI, 'consume', '--nats', url, '--durable', durable, '--config', config, '--batch', '500', '--ack-wait-ms', '2000'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    cleanups.push(() => child.kill('SIGKILL'));
    return { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))), stderr: () => err };
  }

  /** Lines in the file, counted without parsing and reading only what was appended since the last call (the waits poll it). */
  const counted = new Map<string, { at: number; lines: number }>();
  const linesIn = (file: string): number => {
    if (!existsSync(file)) return 0;
    const c = counted.get(file) ?? { at: 0, lines: 0 };
    const fd = openSync(file, 'r');
    try {
      const chunk = Buffer.alloc(1 << 20);
      for (let n; (n = readSync(fd, chunk, 0, chunk.length, c.at)) > 0; c.at += n) {
        for (let i = chunk.indexOf(10); i !== -1 && i < n; i = chunk.indexOf(10, i + 1)) c.lines++;
      }
    } finally {
      closeSync(fd);
    }
    counted.set(file, c);
    return c.lines;
  };
  const seqsIn = (file: string): number[] =>
    existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => Number((parseExact(l).output_fields as Record<string, unknown>)['seq'])) : [];

  it('SIGTERM and restart: nothing twice; SIGKILL and restart: every alert, only the batch in flight twice', async () => {
    const bus = await filledBus();
    const file = join(tempDir(), 'consumed.jsonl');
    let c = consumeProcess(bus.url, 'job', file);
    await waitFor('a first part written', () => linesIn(file) >= 4000, 90_000);
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    const afterTerm = seqsIn(file);
    expect(new Set(afterTerm).size).toBe(afterTerm.length); // exactly once so far

    c = consumeProcess(bus.url, 'job', file);
    await waitFor('more written', () => linesIn(file) >= afterTerm.length + 4000, 90_000);
    c.child.kill('SIGKILL');
    await c.exited;
    const atKill = seqsIn(file).length;
    // Still once each: SIGTERM repeated nothing. (What the SIGKILLed consume had in hand comes
    // back after the ack wait, to the next one: order in the file may differ from the stream's.)
    expect(new Set(seqsIn(file)).size).toBe(atKill);

    c = consumeProcess(bus.url, 'job', file);
    await waitFor('every alert written', () => linesIn(file) >= total && new Set(seqsIn(file)).size === total, 90_000);
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    const all = seqsIn(file);
    expect(new Set(all).size).toBe(total);
    // The repeats are the batch that was in flight at SIGKILL: at most one batch, all written before the kill.
    const repeats = all.length - total;
    expect(repeats).toBeLessThanOrEqual(500);
    const before = new Set(all.slice(0, atKill));
    for (const seq of all.slice(atKill).filter((s, i, rest) => before.has(s) || rest.indexOf(s) !== i)) expect(before.has(seq)).toBe(true);
    // Field for field: the lines are Falco's JSON of the producer's alerts.
    expect(parseExact(readFileSync(file, 'utf8').split('\n')[0]!)).toMatchObject({ rule: 'Terminal shell in container', priority: 'Notice', output: 'shell spawned #0 (user=root)' });
  });

  it('two consume processes with one durable name split the work without loss or repeat', async () => {
    const bus = await filledBus();
    const files = [join(tempDir(), 'a.jsonl'), join(tempDir(), 'b.jsonl')];
    const procs = files.map((f) => consumeProcess(bus.url, 'shared', f));
    await waitFor('every alert written once', () => files.reduce((n, f) => n + linesIn(f), 0) >= total, 90_000);
    for (const p of procs) p.child.kill('SIGTERM');
    for (const p of procs) expect(await p.exited).toBe(0);
    const [a, b] = files.map(seqsIn);
    expect(a!.length).toBeGreaterThan(0);
    expect(b!.length).toBeGreaterThan(0);
    expect([...a!, ...b!].sort((x, y) => x - y)).toEqual(range(0, total));
  });
});


/** falco.outputs.service/get over mTLS: the seq of every alert it returns, in order. */
function getSeqs(addr: string): Promise<number[]> {
  const client = grpcClient(addr);
  return new Promise((resolve, reject) => {
    const seqs: number[] = [];
    const call = client.makeServerStreamRequest('/falco.outputs.service/get', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0));
    call.on('data', (bytes: Buffer) => seqs.push(Number(decodeAlert(bytes).outputFields['seq'])));
    call.on('error', reject);
    call.on('end', () => resolve(seqs));
  });
}

/** Runs `receive` to its exit (it should refuse to start). */
function runReceive(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'receive', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    cleanups.push(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

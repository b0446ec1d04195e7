// Falco's subscription API (falco.outputs.service sub/get, falco.version.service), exercised by
// clients built independently of the project's generated code (proto-loader reading the .proto
// at run time), as Falco's own clients are.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createGrpcOutput, createReceiver, type Receiver, type ReceiverOptions } from '../dist/src/index.js';
import { clientTls, serverTls, tempDir, writePki } from './helpers/pki.js';
import { CLI, CollectingSink, emitRange, parseExact, subscriberProcess, waitFor } from './helpers/harness.js';

const PROTO = fileURLToPath(new URL('../proto', import.meta.url));
const DATA = fileURLToPath(new URL('./fixtures/falco-alerts.jsonl', import.meta.url));
const definition = protoLoader.loadSync(['falco/outputs/outputs.proto', 'falco/version/version.proto'], {
  includeDirs: [PROTO],
  keepCase: true,
  longs: String,
  enums: String,
  arrays: true, // empty repeated and map fields as [] and {}, as Falco's Go and Python clients see them
  objects: true,
  defaults: true, // a priority of 0 (EMERGENCY) is the field's default and absent on the wire
});
type AnyClient = grpc.Client & Record<string, (...a: unknown[]) => unknown>;
const pkg = grpc.loadPackageDefinition(definition) as unknown as {
  falco: {
    outputs: { service: new (target: string, creds: grpc.ChannelCredentials) => AnyClient };
    version: { service: new (target: string, creds: grpc.ChannelCredentials) => AnyClient };
  };
};

interface Resp {
  rule: string;
  priority: string;
  source: string;
  source_deprecated: string;
  output: string;
  hostname: string;
  tags: string[];
  output_fields: Record<string, string>;
  time: { seconds: string; nanos: number };
}

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function creds(tcp: boolean): grpc.ChannelCredentials {
  if (!tcp) return grpc.credentials.createInsecure();
  const t = clientTls();
  return grpc.credentials.createSsl(Buffer.from(t.ca), Buffer.from(t.key), Buffer.from(t.cert));
}

async function startReceiver(tcp: boolean, extra: Partial<ReceiverOptions> = {}) {
  const listen = tcp ? 'localhost:0' : `unix://${join(tempDir(), 'sub.sock')}`;
  const sink = new CollectingSink();
  const receiver: Receiver = createReceiver({ listen: [listen], tls: tcp ? serverTls() : undefined, sink, ...extra });
  cleanups.push(() => receiver.close());
  const [addr] = await receiver.start();
  const client = new pkg.falco.outputs.service(addr!, creds(tcp));
  cleanups.push(() => client.close());
  return { receiver, sink, client, addr: addr! };
}

function transmitter(addr: string, tcp: boolean, batchAlerts?: number) {
  const output = createGrpcOutput({ target: addr, tls: tcp ? clientTls() : undefined, batchAlerts });
  cleanups.push(() => output.close());
  return output;
}

/** Opens `sub` in this process and collects what arrives. */
function subscribe(client: AnyClient) {
  const call = client['sub']!() as grpc.ClientDuplexStream<object, Resp>;
  const got: Resp[] = [];
  call.on('data', (r: Resp) => got.push(r));
  call.on('error', () => {});
  call.write({}); // Falco's clients open with an empty request
  cleanups.push(() => void call.end());
  return got;
}


const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('falco.outputs.service/sub', () => {
  for (const tcp of [true, false]) {
    it(`two subscribers both get every alert, in order (${tcp ? 'mTLS' : 'unix socket'})`, async () => {
      const { client, receiver, addr } = await startReceiver(tcp);
      const a = subscribe(client);
      const b = subscribe(client);
      await waitFor('both subscribed', () => receiver.stats().subscribers === 2);
      await emitRange(transmitter(addr, tcp), 0, 2000);
      await waitFor('every alert at both', () => a.length === 2000 && b.length === 2000, 20_000);
      for (const got of [a, b]) expect(got.map((r) => Number(r.output_fields['seq']))).toEqual(range(0, 2000));
      expect(a[0]).toMatchObject({ rule: 'Terminal shell in container', priority: 'NOTICE', source_deprecated: 'K8S_AUDIT', source: 'k8s_audit', time: { seconds: '1764219600', nanos: 970 } });
      expect(receiver.stats().subscriberDrops).toBe(0);
    });
  }

  it('a frozen subscriber loses only its own oldest alerts; the others and ingestion carry on', async () => {
    const queue = 1000;
    const { receiver, addr } = await startReceiver(false, { subscriptions: { queueAlerts: queue } });
    const fast = await subscriberProcess(addr, [], (fn) => cleanups.push(fn));
    const polling = await subscriberProcess(addr, ['--poll-ms', '50'], (fn) => cleanups.push(fn)); // Falco's Go client style
    const frozen = await subscriberProcess(addr, [], (fn) => cleanups.push(fn));
    await waitFor('three subscribed', () => receiver.stats().subscribers === 3);
    frozen.child.kill('SIGSTOP'); // reads nothing: HTTP/2 flow control stops the receiver's writes to it
    cleanups.push(() => void frozen.child.kill('SIGCONT'));
    const output = transmitter(addr, false, 200);
    // Paced by the healthy subscribers themselves, not by a clock: the next step goes out once
    // both hold everything so far, so neither is ever more than one step (250) behind, well
    // inside its 1,000-alert queue, however busy the machine. The frozen one falls ever further behind.
    const total = 8000;
    const step = 250;
    for (let from = 0; from < total; from += step) {
      await emitRange(output, from, from + step);
      await fast.seqsUntil(from + step);
      await polling.seqsUntil(from + step);
    }
    expect((await output.flush(20_000)).flushed).toBe(true); // ingestion finished while one subscriber was frozen
    expect(output.stats().dropped).toBe(0);
    expect(receiver.stats().accepted).toBe(total);
    // The others got everything, in order, while the frozen one was still frozen; nothing was dropped from them.
    expect(await fast.seqsUntil(total)).toEqual(range(0, total));
    expect(await polling.seqsUntil(total)).toEqual(range(0, total));
    // Every drop so far is the frozen one's (counted as each alert was published): its queue plus
    // what HTTP/2 and the socket buffers took before it froze are all it can hold.
    const drops = receiver.stats().subscriberDrops;
    expect(drops).toBeGreaterThan(total - queue - 2000);
    frozen.child.kill('SIGCONT');
    const seqs = await frozen.seqsUntil(total - drops);
    expect(seqs.at(-1)).toBe(total - 1);
    expect(seqs.length + drops).toBe(total); // each alert delivered to it or counted as its drop
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y)); // in order; what it lost were its oldest
    expect(seqs.slice(-queue)).toEqual(range(total - queue, total)); // it kept the newest queue-full
    expect(receiver.stats().subscriberDrops).toBe(drops); // and it lost nothing more once it read again
  });

  it('is not served when subscriptions are off (Falco grpc_output.enabled: false)', async () => {
    const { client } = await startReceiver(false, { subscriptions: false });
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      const call = client['get']!({}) as grpc.ClientReadableStream<Resp>;
      call.on('error', resolve);
      call.on('data', () => {});
    });
    expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
  });
});

describe('falco.outputs.service/get and falco.version.service/version', () => {
  it('get returns the retained recent alerts and completes', async () => {
    const { client, addr } = await startReceiver(true, { subscriptions: { historyAlerts: 50 } });
    const output = transmitter(addr, true);
    await emitRange(output, 0, 120);
    expect((await output.flush()).flushed).toBe(true);
    const got: Resp[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client['get']!({}) as grpc.ClientReadableStream<Resp>;
      call.on('data', (r: Resp) => got.push(r));
      call.on('end', resolve);
      call.on('error', reject);
    });
    expect(got.map((r) => Number(r.output_fields['seq']))).toEqual(range(70, 120));
  });

  it('version answers with the project version', async () => {
    const { addr } = await startReceiver(true);
    const client = new pkg.falco.version.service(addr, creds(true));
    cleanups.push(() => client.close());
    const reply = await new Promise<{ version: string; major: number }>((resolve, reject) =>
      client['version']!({}, (err: Error | null, r: { version: string; major: number }) => (err ? reject(err) : resolve(r))),
    );
    expect(reply.version).toMatch(/^falco-grpc-output \d+\.\d+\.\d+/);
  });
});

describe('--min-priority', () => {
  it('passes on only alerts at least as severe; the rest are acknowledged and counted as filtered', async () => {
    const { client, receiver, sink, addr } = await startReceiver(false, { minPriority: 'warning' });
    const got = subscribe(client);
    await waitFor('subscribed', () => receiver.stats().subscribers === 1);
    const output = transmitter(addr, false);
    await emitRange(output, 0, 1000); // even: Notice, odd: Warning
    expect((await output.flush()).flushed).toBe(true);
    const odd = range(0, 1000).filter((i) => i % 2 === 1);
    await waitFor('subscriber got the warnings', () => got.length === odd.length);
    expect(sink.seqs()).toEqual(odd);
    expect(got.map((r) => Number(r.output_fields['seq']))).toEqual(odd);
    expect(receiver.stats()).toMatchObject({ accepted: 500, filtered: 500, gaps: 0 });
  });

  it('refuses an unknown priority name, naming the choices', () => {
    expect(() => createReceiver({ listen: ['unix:///tmp/x.sock'], minPriority: 'loud' })).toThrow(/minPriority must be one of Emergency.*got loud/);
  });
});


describe('send → receiver → sub', () => {
  for (const tcp of [true, false]) {
    it(`every sample line reaches a subscriber field for field (${tcp ? 'mTLS' : 'unix socket'})`, async () => {
      const { client, receiver, addr } = await startReceiver(tcp);
      const got = subscribe(client);
      await waitFor('subscribed', () => receiver.stats().subscribers === 1);
      const tlsArgs = tcp ? (() => { const dir = writePki(); return ['--tls-ca', join(dir, 'ca.crt'), '--tls-cert', join(dir, 'client.crt'), '--tls-key', join(dir, 'client.key')]; })() : [];
      const send = spawn(process.execPath, [CLI, 'send', '--target', addr, '--input', DATA, ...tlsArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      send.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => send.on('exit', resolve));
      expect(code, stderr).toBe(0);
      const lines = readFileSync(DATA, 'utf8').trim().split('\n');
      await waitFor('all sample alerts at the subscriber', () => got.length === lines.length, 20_000);
      lines.forEach((line, i) => {
        const want = parseExact(line);
        const r = got[i]!;
        const ns = BigInt(r.time.seconds) * 1_000_000_000n + BigInt(r.time.nanos);
        const wantNs = BigInt(Date.parse(String(want['time']).replace(/\.\d+Z$/, 'Z'))) * 1_000_000n + BigInt(String(want['time']).match(/\.(\d{9})Z$/)![1]!);
        expect(ns, `line ${i + 1} time`).toBe(wantNs);
        expect(r.priority, `line ${i + 1}`).toBe(String(want['priority']).toUpperCase());
        expect({ rule: r.rule, output: r.output, hostname: r.hostname, source: r.source, tags: r.tags }).toEqual({
          rule: want['rule'], output: want['output'], hostname: want['hostname'], source: want['source'], tags: want['tags'] ?? [],
        });
        const fields = Object.fromEntries(Object.entries((want['output_fields'] ?? {}) as Record<string, unknown>).map(([k, v]) => [k, v === null ? '<NA>' : String(v)]));
        expect(r.output_fields, `line ${i + 1} output_fields`).toEqual(fields);
      });
    });
  }
});

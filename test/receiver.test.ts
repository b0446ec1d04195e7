// The receiver's service surface: health, reflection, unix socket permissions, the JSON sink.

import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createGrpcOutput, createReceiver, JsonLinesSink, type Receiver } from '../dist/src/index.js';
import { clientTls, serverTls, tempDir } from './helpers/pki.js';
import { emitRange, parseExact } from './helpers/harness.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function unary(client: grpc.Client, path: string, request: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, request, (err, res) => (err ? reject(err) : resolve(res!))),
  );
}

describe('receiver', () => {
  let receiver: Receiver;
  async function start(listen: string[]): Promise<string[]> {
    receiver = createReceiver({ listen, tls: serverTls(), sink: new JsonLinesSink({ file: join(tempDir(), 'x.jsonl') }) });
    cleanups.push(() => receiver.close());
    return receiver.start();
  }

  it('serves the standard health service over mTLS, for the server and the Transmitter service', async () => {
    const [addr] = await start(['localhost:0']);
    const t = clientTls();
    const client = new grpc.Client(addr!, grpc.credentials.createSsl(Buffer.from(t.ca), Buffer.from(t.key), Buffer.from(t.cert)));
    cleanups.push(async () => client.close());
    // HealthCheckRequest { service = "" } is empty; HealthCheckResponse { status = SERVING (1) } is 08 01.
    expect([...(await unary(client, '/grpc.health.v1.Health/Check', Buffer.alloc(0)))]).toEqual([0x08, 0x01]);
    const service = Buffer.from('falco.transmit.v1.Transmitter');
    const named = Buffer.concat([Buffer.from([0x0a, service.length]), service]);
    expect([...(await unary(client, '/grpc.health.v1.Health/Check', named))]).toEqual([0x08, 0x01]);
  });

  it('serves server reflection listing the Transmitter and health services', async () => {
    const sock = `unix://${join(tempDir(), 'refl.sock')}`;
    await start([sock]);
    const client = new grpc.Client(sock, grpc.credentials.createInsecure());
    cleanups.push(async () => client.close());
    const call = client.makeBidiStreamRequest(
      '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    const reply = new Promise<Buffer>((resolve) => call.once('data', resolve));
    call.write(Buffer.from([0x3a, 0x00])); // ServerReflectionRequest { list_services = "" }
    const text = (await reply).toString('latin1');
    // The call ends with its status before the client closes, or the close errors it with no listener.
    const ended = new Promise((resolve) => call.on('status', resolve));
    call.on('error', () => {});
    call.end();
    await ended;
    expect(text).toContain('falco.transmit.v1.Transmitter');
    expect(text).toContain('grpc.health.v1.Health');
  });

  it('widens HTTP/2 flow control on each connection (the 64 KiB default caps throughput)', async () => {
    const logged: string[] = [];
    const sock = `unix://${join(tempDir(), 'window.sock')}`;
    const rx = createReceiver({ listen: [sock], sink: new JsonLinesSink({ file: join(tempDir(), 'w.jsonl') }), log: (l) => logged.push(l) });
    cleanups.push(() => rx.close());
    await rx.start();
    const output = createGrpcOutput({ target: sock });
    cleanups.push(() => output.close());
    await emitRange(output, 0, 100);
    expect((await output.flush()).flushed).toBe(true);
    expect(logged.filter((l) => l.includes('flow-control'))).toEqual([]);
  });

  it('creates unix sockets owner/group-only (0660) and removes them on close', async () => {
    const path = join(tempDir(), 'perm.sock');
    await start([`unix://${path}`]);
    expect(statSync(path).mode & 0o777).toBe(0o660);
    await receiver.close();
    expect(() => statSync(path)).toThrow(/ENOENT/);
  });

  it('listens on several addresses at once and writes Falco JSON lines to the output file', async () => {
    const dir = tempDir();
    const file = join(dir, 'alerts.jsonl');
    receiver = createReceiver({ listen: ['localhost:0', `unix://${join(dir, 'a.sock')}`], tls: serverTls(), sink: new JsonLinesSink({ file }) });
    cleanups.push(() => receiver.close());
    const [tcp, unix] = await receiver.start();
    const a = createGrpcOutput({ target: tcp!, tls: clientTls() });
    const b = createGrpcOutput({ target: unix! });
    cleanups.push(() => a.close(), () => b.close());
    await emitRange(a, 0, 10);
    await emitRange(b, 10, 20);
    expect((await a.flush()).flushed && (await b.flush()).flushed).toBe(true);
    await receiver.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n').map(parseExact);
    expect(lines.length).toBe(20);
    expect(receiver.stats().producers).toBe(2);
    const first = lines.find((l) => (l['output_fields'] as { seq: number }).seq === 0);
    expect(first).toEqual({
      hostname: 'worker-node-1',
      output: 'shell spawned #0 (user=root)',
      priority: 'Notice',
      rule: 'Terminal shell in container',
      source: 'k8s_audit',
      tags: ['container', 'shell'],
      time: '2025-11-27T05:00:00.000000970Z',
      // Numbers stay numbers (64-bit ones exact: parseExact reads them as strings); null stays null.
      output_fields: { seq: 0, 'evt.time': '1764219600000000970', 'proc.name': 'bash', 'fd.name': null },
    });
  });
});

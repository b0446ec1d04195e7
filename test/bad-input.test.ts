// Bad input from a user or a network peer: each gets a clear error, and everything else
// keeps working (a good transmitter on the same receiver still delivers).

import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createDevPki, createGrpcOutput, createReceiver, type AlertRun, type GrpcOutput, type Receiver } from '../dist/src/index.js';
import { PublishRequest } from '../dist/src/gen/falco/transmit/v1/transmit.js';
import { clientTls, serverTls, tempDir } from './helpers/pki.js';
import { CLI, CollectingSink, checkExactlyOnceInOrder, emitRange, numberedAlert, waitFor } from './helpers/harness.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
function track<T extends GrpcOutput | Receiver>(thing: T): T {
  cleanups.push(() => thing.close(500));
  return thing;
}

async function mtlsReceiver(options: { maxMessageBytes?: number } = {}) {
  const sink = new CollectingSink();
  const receiver = track(createReceiver({ listen: ['localhost:0'], tls: serverTls(), sink, log: () => {}, ...options }));
  const [addr] = await receiver.start();
  return { sink, receiver, addr: addr! };
}

/** A good transmitter delivers 1,000 alerts through the same receiver. */
async function goodClientStillDelivers(addr: string, sink: CollectingSink): Promise<void> {
  const before = sink.alerts.length;
  const output = track(createGrpcOutput({ target: addr, tls: clientTls() }));
  await emitRange(output, 0, 1000);
  expect((await output.flush(20_000)).flushed).toBe(true);
  expect(checkExactlyOnceInOrder(sink.alerts.slice(before), 1000)).toBeNull();
}

/** A raw Publish stream: bytes go out exactly as given. */
function rawPublish(addr: string, creds: grpc.ChannelCredentials, messages: Buffer[]): Promise<grpc.StatusObject> {
  const client = new grpc.Client(addr, creds);
  const call = client.makeBidiStreamRequest(
    '/falco.transmit.v1.Transmitter/Publish',
    (b: Buffer) => b,
    (b: Buffer) => b,
  );
  return new Promise((resolve) => {
    call.on('data', () => {});
    call.on('error', () => {});
    call.on('status', (status) => {
      client.close();
      resolve(status);
    });
    for (const m of messages) call.write(m);
  });
}

function clientCreds(): grpc.ChannelCredentials {
  const t = clientTls();
  return grpc.credentials.createSsl(Buffer.from(t.ca), Buffer.from(t.key), Buffer.from(t.cert));
}

describe('bad input from the network', () => {
  it('a plaintext client against an mTLS receiver gets nowhere, says why, and others are unaffected', async () => {
    const { sink, addr } = await mtlsReceiver();
    const plain = track(createGrpcOutput({ target: addr, insecure: true, reconnectInitialMs: 50 }));
    plain.emit(numberedAlert(0));
    await waitFor('the plaintext stream to fail', () => plain.stats().lastError !== null);
    expect(plain.stats().lastError).toMatch(/^UNAVAILABLE/);
    expect(plain.stats()).toMatchObject({ acked: 0, pending: 1 });
    await goodClientStillDelivers(addr, sink);
  });

  it('a client certificate from another CA is refused, and others are unaffected', async () => {
    const { sink, addr } = await mtlsReceiver();
    const stranger = createDevPki({ name: 'stranger' });
    // Trusts our server, but presents a certificate our receiver's CA never signed.
    const output = track(
      createGrpcOutput({
        target: addr,
        tls: { ca: clientTls().ca, cert: stranger.clientCert, key: stranger.clientKey },
        reconnectInitialMs: 50,
      }),
    );
    output.emit(numberedAlert(0));
    await waitFor('the handshake to fail', () => output.stats().lastError !== null);
    expect(output.stats().lastError).toMatch(/^UNAVAILABLE/);
    expect(output.stats().acked).toBe(0);
    await goodClientStillDelivers(addr, sink);
  });

  it('a receiver certificate from another CA is refused by the transmitter', async () => {
    const { addr } = await mtlsReceiver();
    const stranger = createDevPki({ name: 'stranger' });
    const output = track(
      createGrpcOutput({
        target: addr,
        tls: { ca: stranger.caCert, cert: clientTls().cert, key: clientTls().key },
        reconnectInitialMs: 50,
      }),
    );
    output.emit(numberedAlert(0));
    await waitFor('the handshake to fail', () => output.stats().lastError !== null);
    expect(output.stats().lastError).toMatch(/UNAVAILABLE/);
  });

  it('garbage bytes on the Publish stream end that stream with INVALID_ARGUMENT, and others are unaffected', async () => {
    const { sink, receiver, addr } = await mtlsReceiver();
    const status = await rawPublish(addr, clientCreds(), [Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99])]);
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/malformed PublishRequest/);
    expect(receiver.stats().rejectedStreams).toBe(1);
    await goodClientStillDelivers(addr, sink);
  });

  it('a PublishRequest without a producer id is refused with a reason', async () => {
    const { addr } = await mtlsReceiver();
    const bytes = Buffer.from(PublishRequest.encode({ producerId: '', firstSeq: 1n, alerts: [] }).finish());
    const status = await rawPublish(addr, clientCreds(), [bytes]);
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/producer_id is empty/);
  });

  it('an oversized message ends its stream with RESOURCE_EXHAUSTED', async () => {
    const { sink, addr } = await mtlsReceiver({ maxMessageBytes: 64 * 1024 });
    const status = await rawPublish(addr, clientCreds(), [Buffer.alloc(100 * 1024, 0x0a)]);
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await goodClientStillDelivers(addr, sink);
  });

  it('an alert the receiver refuses on its own is given up and counted; the alerts around it arrive', async () => {
    const { sink, addr } = await mtlsReceiver({ maxMessageBytes: 64 * 1024 });
    const output = track(createGrpcOutput({ target: addr, tls: clientTls(), reconnectInitialMs: 20, reconnectMaxMs: 100 }));
    output.emit(numberedAlert(0));
    output.emit({ ...numberedAlert(1), output: 'x'.repeat(100 * 1024) }); // fits our 1 MiB limit, not the receiver's 64 KiB
    output.emit(numberedAlert(2));
    expect((await output.flush(20_000)).flushed).toBe(true);
    expect(output.stats()).toMatchObject({ emitted: 3, acked: 2, dropped: 1, drops: { rejected: 1 } });
    expect(sink.seqs()).toEqual([0, 2]);
    expect(output.stats().lastError).toMatch(/RESOURCE_EXHAUSTED/);
  });
});

describe('a failing or stuck receiver', () => {
  it('a sink that fails once loses nothing: requests queued behind the failure are not taken as a gap', async () => {
    let failures = 1;
    const sink = new CollectingSink();
    const failing = {
      write: async (run: AlertRun) => {
        if (failures > 0) {
          failures--;
          throw new Error('disk full');
        }
        await sink.write(run);
      },
    };
    const sock = `unix://${join(tempDir(), 'fail.sock')}`;
    await track(createReceiver({ listen: [sock], sink: failing, log: () => {} })).start();
    const output = track(createGrpcOutput({ target: sock, batchAlerts: 10, reconnectInitialMs: 20 }));
    for (let i = 0; i < 200; i++) output.emit(numberedAlert(i));
    expect((await output.flush(20_000)).flushed).toBe(true);
    expect(checkExactlyOnceInOrder(sink.alerts, 200)).toBeNull();
    expect(output.stats()).toMatchObject({ acked: 200, dropped: 0 });
  });

  it('close() returns within its timeout while the receiver has stopped reading', async () => {
    const sock = `unix://${join(tempDir(), 'stuck.sock')}`;
    const never = { write: () => new Promise<void>(() => {}) };
    const receiver = createReceiver({ listen: [sock], sink: never, log: () => {} });
    await receiver.start();
    const output = createGrpcOutput({ target: sock, bufferBytes: 4 * 1024 * 1024 });
    for (let i = 0; i < 10_000; i++) output.emit({ ...numberedAlert(i), output: 'x'.repeat(300) });
    await waitFor('the stream to back up', () => output.stats().sent > 0);
    const t0 = performance.now();
    const result = await output.close(1000);
    expect(performance.now() - t0).toBeLessThan(8000);
    expect(result.flushed).toBe(false);
    expect(result.pending).toBeGreaterThan(0);
    void receiver.close(); // its sink never finishes; it gives up on its own after a grace period
  });

  it('the reconnect backoff grows against a receiver that accepts streams and then fails each one', async () => {
    const sock = `unix://${join(tempDir(), 'backoff.sock')}`;
    const broken = { write: () => Promise.reject(new Error('broken sink')) };
    await track(createReceiver({ listen: [sock], sink: broken, log: () => {} })).start();
    const output = track(createGrpcOutput({ target: sock, reconnectInitialMs: 100, reconnectMaxMs: 5000 }));
    output.emit(numberedAlert(0));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    // ×1.6 from 100 ms: ~7 attempts fit in 3 s; without growth there would be ~25.
    expect(output.stats().reconnects).toBeLessThanOrEqual(10);
    expect(output.stats().reconnects).toBeGreaterThanOrEqual(3);
  });
});

describe('bad input from the host', () => {
  it('an invalid alert throws a TypeError naming the field, is counted, and writes nothing', async () => {
    const sock = `unix://${join(tempDir(), 'inv.sock')}`;
    const sink = new CollectingSink();
    track(createReceiver({ listen: [sock], sink })).start();
    await waitFor('socket', () => true);
    const output = track(createGrpcOutput({ target: sock }));
    output.emit(numberedAlert(0));
    expect(() => output.emit({ ...numberedAlert(1), rule: 42 as unknown as string })).toThrow(/rule must be a string/);
    expect(() => output.emit({ ...numberedAlert(1), priority: 'loud' })).toThrow(TypeError);
    expect(() => output.emit({ ...numberedAlert(1), output_fields: { bad: {} as unknown as string } })).toThrow(/output_fields\["bad"\]/);
    output.emit(numberedAlert(1));
    expect((await output.flush(10_000)).flushed).toBe(true);
    expect(output.stats()).toMatchObject({ emitted: 5, acked: 2, dropped: 3, drops: { invalid: 3 } });
    expect(checkExactlyOnceInOrder(sink.alerts, 2)).toBeNull();
  });

  it('an alert larger than maxAlertBytes is dropped as too_large, the rest delivered', async () => {
    const sock = `unix://${join(tempDir(), 'big.sock')}`;
    const sink = new CollectingSink();
    await track(createReceiver({ listen: [sock], sink })).start();
    const output = track(createGrpcOutput({ target: sock, maxAlertBytes: 4096 }));
    expect(output.emit(numberedAlert(0))).toBe(true);
    expect(output.emit({ ...numberedAlert(1), output: 'y'.repeat(5000) })).toBe(false);
    expect(output.emit(numberedAlert(1))).toBe(true);
    expect((await output.flush(10_000)).flushed).toBe(true);
    expect(output.stats()).toMatchObject({ emitted: 3, acked: 2, dropped: 1, drops: { too_large: 1 } });
    expect(checkExactlyOnceInOrder(sink.alerts, 2)).toBeNull();
  });

  it('a TCP target without TLS is refused unless insecure is explicit', () => {
    expect(() => createGrpcOutput({ target: 'localhost:50051' })).toThrow(/mTLS|insecure/);
    expect(() => createReceiver({ listen: ['localhost:0'] })).toThrow(/mTLS|insecure/);
    expect(() => createGrpcOutput({ target: 'localhost:50051', tls: { ca: '/nonexistent/ca.crt', cert: 'x', key: 'y' } })).toThrow(
      /cannot read tls.ca from \/nonexistent\/ca.crt/,
    );
  });

  it('the receive CLI rejects half a TLS configuration before listening', () => {
    const run = spawnSync(process.execPath, [CLI, 'receive', '--listen', 'localhost:0', '--tls-cert', 'server.crt'], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/missing --tls-ca, --tls-key/);
  });
});

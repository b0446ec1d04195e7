// An output's worker thread is replaced whenever it dies: while it loads, while it connects,
// before its first ack, mid-stream, again and again; with a growing delay when replacements keep
// dying without getting anything done, and a count and a reason when the output gives up.
// Real worker threads killed with terminate(), a real receiver, real gRPC over a unix socket.

import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { createDevPki, createGrpcOutput, createReceiver, type GrpcOutput, type Receiver } from '../dist/src/index.js';
import { CollectingSink, checkExactlyOnceInOrder, numberedAlert, waitFor } from './helpers/harness.js';
import { tempDir, testPki } from './helpers/pki.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track<T extends GrpcOutput | Receiver>(thing: T): T {
  cleanups.push(() => thing.close(2000));
  return thing;
}

function threadsOf(output: GrpcOutput): readonly Worker[] {
  return (output as unknown as { workerThreads(): readonly Worker[] }).workerThreads();
}

/** Waits for a live worker thread and terminates it; resolves once it is gone. */
async function killWorker(output: GrpcOutput): Promise<void> {
  await waitFor('a live worker thread', () => threadsOf(output).length > 0);
  await threadsOf(output)[0]!.terminate();
}

async function unixReceiver(sink: CollectingSink): Promise<string> {
  const sock = `unix://${join(tempDir(), 'r.sock')}`;
  await track(createReceiver({ listen: [sock], sink })).start();
  return sock;
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

describe('worker restarts', () => {
  it('killed three times 20,000 alerts apart while the host yields every 1,000: every alert arrives once, in order', async () => {
    const sink = new CollectingSink();
    const lines: string[] = [];
    // 32 MiB holds all 60,000 alerts: whatever the timing, nothing may be dropped as full.
    const output = track(createGrpcOutput({ target: await unixReceiver(sink), bufferBytes: 32 * 1024 * 1024, log: (l) => lines.push(l) }));
    for (let i = 0; i < 60_000; i++) {
      if (i % 1000 === 0) await yieldToLoop();
      if (i === 10_000 || i === 30_000 || i === 50_000) await killWorker(output);
      expect(output.emit(numberedAlert(i))).toBe(true);
    }
    expect(await output.flush(60_000)).toEqual({ flushed: true, pending: 0 });
    expect(checkExactlyOnceInOrder(sink.alerts, 60_000)).toBeNull();
    expect(output.stats()).toMatchObject({ emitted: 60_000, acked: 60_000, dropped: 0, workerRestarts: 3, lastError: null });
    expect(lines.filter((l) => /worker thread died \(exited with code \d+\); restarting it/.test(l))).toHaveLength(3);
  });

  it('killed while its thread is still loading, three times running: a fourth thread delivers everything', async () => {
    const sink = new CollectingSink();
    const output = track(createGrpcOutput({ target: await unixReceiver(sink), log: () => {} }));
    for (let k = 0; k < 3; k++) await killWorker(output); // each new thread dies before it has read a thing
    for (let i = 0; i < 1000; i++) output.emit(numberedAlert(i));
    expect((await output.flush(30_000)).flushed).toBe(true);
    expect(checkExactlyOnceInOrder(sink.alerts, 1000)).toBeNull();
    expect(output.stats().workerRestarts).toBe(3);
  });

  it('killed while connecting to a receiver that is not up yet, and killed again before its first ack', async () => {
    const sock = `unix://${join(tempDir(), 'late.sock')}`;
    const output = track(createGrpcOutput({ target: sock, reconnectInitialMs: 50, reconnectMaxMs: 200, log: () => {} }));
    for (let i = 0; i < 500; i++) output.emit(numberedAlert(i));
    await waitFor('a failed connection attempt', () => output.stats().reconnects > 0);
    await killWorker(output); // while it backs off between connection attempts

    const sink = new CollectingSink();
    sink.stall(); // the receiver takes the alerts but does not ack them yet
    await track(createReceiver({ listen: [sock], sink })).start();
    await waitFor('alerts on the wire', () => output.stats().sent >= 500);
    expect(output.stats().acked).toBe(0);
    await killWorker(output); // alerts in flight, none acknowledged
    sink.release();
    expect((await output.flush(30_000)).flushed).toBe(true);
    // The receiver skips what it already had: each alert is written once.
    expect(checkExactlyOnceInOrder(sink.alerts, 500)).toBeNull();
    expect(output.stats()).toMatchObject({ acked: 500, workerRestarts: 2 });
  });

  it('a worker that can never start is restarted with growing delays, then given up on with a count and the reason', async () => {
    // A key that does not belong to the certificate: the worker throws as it sets up TLS.
    const other = createDevPki({ name: 'other' });
    const lines: string[] = [];
    const output = track(
      createGrpcOutput({ target: '127.0.0.1:1', tls: { ca: testPki().caCert, cert: testPki().clientCert, key: other.clientKey }, log: (l) => lines.push(l) }),
    );
    for (let i = 0; i < 10; i++) output.emit(numberedAlert(i));
    await waitFor('the output to give up', () => output.stats().connection === 'closed', 60_000);
    const s = output.stats();
    expect(s.workerRestarts).toBe(7); // 8 threads, each dead before it delivered anything
    expect(s.lastError).toMatch(/worker thread died 8 times in a row without delivering anything \(last: .*key values mismatch.*\); not restarted/);
    const delays = lines.map((l) => /restarting it(?: in (\d+) ms)?$/.exec(l)).filter((m) => m !== null).map((m) => Number(m[1] ?? 0));
    expect(delays).toHaveLength(7);
    expect(delays[0]).toBe(0); // the first replacement is immediate
    for (let i = 2; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]!);
    expect(delays[6]).toBeGreaterThan(delays[1]!);
    expect(lines.some((l) => l.includes('not restarted; alerts stay in its ring and are counted at close'))).toBe(true);
    // What it held is accounted for at close: emitted = acked + dropped.
    expect(await output.close(100)).toEqual({ flushed: false, pending: 10 });
    expect(output.stats()).toMatchObject({ emitted: 10, acked: 0, pending: 0, dropped: 10, drops: { unacked_at_close: 10 } });
  });
});

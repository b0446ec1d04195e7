// End to end: the transmitter (real worker thread, real gRPC) into a receiver (in this
// process, or the CLI as a child process), over loopback mTLS and over a unix socket.

import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createGrpcOutput, createReceiver, type GrpcOutput, type Receiver } from '../dist/src/index.js';
import { clientTls, serverTls, tempDir, writePki } from './helpers/pki.js';
import {
  CollectingSink,
  checkExactlyOnceInOrder,
  emitRange,
  numberedAlert,
  startReceiverProcess,
  waitFor,
} from './helpers/harness.js';

const N = 100_000;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track<T extends GrpcOutput | Receiver>(thing: T): T {
  cleanups.push(() => thing.close());
  return thing;
}

function statsInvariantHolds(output: GrpcOutput): boolean {
  const s = output.stats();
  return s.emitted === s.acked + s.pending + s.dropped;
}

describe('delivery', () => {
  it('delivers 100,000 alerts over loopback mTLS exactly once, in order, field for field', async () => {
    const sink = new CollectingSink();
    const receiver = track(createReceiver({ listen: ['localhost:0'], tls: serverTls(), sink }));
    const [addr] = await receiver.start();
    const output = track(createGrpcOutput({ target: addr!, tls: clientTls() }));
    await emitRange(output, 0, N);
    const flushed = await output.flush(60_000);
    expect(flushed).toEqual({ flushed: true, pending: 0 });
    expect(checkExactlyOnceInOrder(sink.alerts, N)).toBeNull();
    const s = output.stats();
    expect(s).toMatchObject({ emitted: N, acked: N, pending: 0, dropped: 0, resent: 0, connection: 'ready' });
    expect(receiver.stats()).toMatchObject({ accepted: N, duplicates: 0, gaps: 0, rejectedStreams: 0 });
  });

  it('delivers 100,000 alerts over a unix socket (no TLS) exactly once, in order', async () => {
    const sink = new CollectingSink();
    const sock = `unix://${join(tempDir(), 'r.sock')}`;
    const receiver = track(createReceiver({ listen: [sock], sink }));
    await receiver.start();
    const output = track(createGrpcOutput({ target: sock }));
    await emitRange(output, 0, N);
    expect((await output.flush(60_000)).flushed).toBe(true);
    expect(checkExactlyOnceInOrder(sink.alerts, N)).toBeNull();
    expect(statsInvariantHolds(output)).toBe(true);
  });

  it('buffers alerts while the receiver is down at start and delivers them when it comes up', async () => {
    const sock = `unix://${join(tempDir(), 'late.sock')}`;
    const output = track(createGrpcOutput({ target: sock, reconnectInitialMs: 50, reconnectMaxMs: 200 }));
    for (let i = 0; i < 5000; i++) expect(output.emit(numberedAlert(i))).toBe(true);
    // The failure reason comes from the worker as a message, a moment after the counters.
    await waitFor('a failed connection attempt', () => output.stats().reconnects > 0 && output.stats().lastError !== null);
    expect(output.stats()).toMatchObject({ emitted: 5000, acked: 0, pending: 5000, dropped: 0 });
    expect(output.stats().lastError).toMatch(/UNAVAILABLE/);

    const sink = new CollectingSink();
    const receiver = track(createReceiver({ listen: [sock], sink }));
    await receiver.start();
    expect((await output.flush(20_000)).flushed).toBe(true);
    expect(checkExactlyOnceInOrder(sink.alerts, 5000)).toBeNull();
  });

  it('survives a worker crash mid-stream: the replacement resumes from the last ack, nothing lost or repeated', async () => {
    const sink = new CollectingSink();
    const sock = `unix://${join(tempDir(), 'crash.sock')}`;
    const receiver = track(createReceiver({ listen: [sock], sink }));
    await receiver.start();
    const output = track(createGrpcOutput({ target: sock }));
    const threads = (output as unknown as { workerThreads(): { terminate(): Promise<number> }[] }).workerThreads();
    await emitRange(output, 0, 30_000);
    await waitFor('some acks', () => output.stats().acked > 0);
    await threads[0]!.terminate(); // the worker dies with alerts in flight
    await emitRange(output, 30_000, 60_000);
    expect((await output.flush(30_000)).flushed).toBe(true);
    expect(output.stats().workerRestarts).toBeGreaterThanOrEqual(1);
    expect(checkExactlyOnceInOrder(sink.alerts, 60_000)).toBeNull();
  });

  it('drops and counts when the ring is full behind a stalled receiver, and emit() never waits for room', async () => {
    const sink = new CollectingSink();
    const sock = `unix://${join(tempDir(), 'stall.sock')}`;
    const receiver = track(createReceiver({ listen: [sock], sink }));
    await receiver.start();
    // onFull 'drop' with an hour's blockTimeoutMs: an emit() that waited for room at all would
    // wait that hour (no room comes while the sink is stalled), so finishing the loop is the proof.
    const output = track(createGrpcOutput({ target: sock, bufferBytes: 256 * 1024, onFull: 'drop', blockTimeoutMs: 3_600_000 }));
    await emitRange(output, 0, 100);
    await output.flush(10_000);
    sink.stall(); // the sink stops accepting, so no more acks arrive
    let accepted = 0;
    for (let i = 100; i < 20_100; i++) if (output.emit(numberedAlert(i))) accepted++;
    const during = output.stats();
    expect(during.drops.full).toBe(20_000 - accepted);
    expect(during.drops.full).toBeGreaterThan(15_000); // 256 KiB holds ~1,000 of these alerts
    expect(statsInvariantHolds(output)).toBe(true);
    sink.release();
    expect((await output.flush(20_000)).flushed).toBe(true);
    const end = output.stats();
    expect(end.emitted).toBe(end.acked + end.dropped);
    expect(end.acked).toBe(100 + accepted);
    expect(sink.alerts.length).toBe(end.acked);
  });

  it('mixes in-place and copied records (alerts over the 64 KiB in-place window, invalid ones) across many wraps', async () => {
    const sink = new CollectingSink();
    const sock = `unix://${join(tempDir(), 'mixed.sock')}`;
    const receiver = track(createReceiver({ listen: [sock], sink }));
    await receiver.start();
    // A 512 KiB ring: the 64 KiB window often does not fit before the end, so both the
    // in-place path (with its wrap padding) and the scratch-and-copy path are taken.
    const output = track(createGrpcOutput({ target: sock, bufferBytes: 512 * 1024 }));
    const expected: number[] = [];
    let invalid = 0;
    for (let i = 0; i < 3000; i++) {
      while (output.stats().pendingBytes > 256 * 1024) await new Promise((resolve) => setTimeout(resolve, 1));
      if (i % 97 === 5) {
        expect(() => output.emit({ ...numberedAlert(i), tags: ['ok', 7 as unknown as string] })).toThrow(/tags\[1\]/);
        invalid++;
        continue;
      }
      const big = i % 50 === 0 ? { output_fields: { ...numberedAlert(i).output_fields, blob: 'z'.repeat(70_000 + i) } } : {};
      expect(output.emit({ ...numberedAlert(i), ...big })).toBe(true);
      expected.push(i);
    }
    expect((await output.flush(30_000)).flushed).toBe(true);
    expect(sink.seqs()).toEqual(expected);
    expect(sink.alerts.filter((a) => a.outputFields['blob'] !== undefined).every((a) => a.outputFields['blob']!.length >= 70_000)).toBe(true);
    expect(output.stats()).toMatchObject({ acked: expected.length, dropped: invalid, drops: { invalid } });
  });

  it('emit() after close() is a clear error, and close() is idempotent', async () => {
    const sock = `unix://${join(tempDir(), 'close.sock')}`;
    const receiver = track(createReceiver({ listen: [sock], sink: new CollectingSink() }));
    await receiver.start();
    const output = createGrpcOutput({ target: sock });
    output.emit(numberedAlert(0));
    const first = output.close();
    expect(output.close()).toBe(first);
    expect(await first).toEqual({ flushed: true, pending: 0 });
    expect(() => output.emit(numberedAlert(1))).toThrow(/after close/);
  });
});

/** Seq numbers in a receiver's Falco JSON output file, in file order; `torn` lines (a SIGKILL mid-write) are left out. */
function seqsInFile(file: string, torn: { count: number } = { count: 0 }): number[] {
  if (!existsSync(file)) return [];
  const seqs: number[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    try {
      seqs.push(Number((JSON.parse(line) as { output_fields: { seq: string } }).output_fields.seq));
    } catch {
      torn.count++;
    }
  }
  return seqs;
}

describe('receiver restarts (the CLI as a child process)', () => {
  for (const transport of ['mtls', 'unix'] as const) {
    it(`SIGTERM then restart mid-stream (${transport}): exactly once, in order`, async () => {
      const dir = tempDir();
      const file = join(dir, 'alerts.jsonl');
      const pkiDir = writePki();
      const tlsArgs = ['--tls-cert', join(pkiDir, 'server.crt'), '--tls-key', join(pkiDir, 'server.key'), '--tls-ca', join(pkiDir, 'ca.crt')];
      const withListen = (addr: string): string[] =>
        transport === 'unix' ? ['--listen', addr, '--output-file', file] : ['--listen', addr, '--output-file', file, ...tlsArgs];
      let receiver = await startReceiverProcess(withListen(transport === 'unix' ? `unix://${join(dir, 'r.sock')}` : 'localhost:0'));
      // The restarted receiver listens where the first one did (its port, once resolved).
      const listen = receiver.addresses[0]!;
      const args = withListen(listen);
      cleanups.push(async () => receiver.child.kill('SIGKILL'));
      const output = track(
        createGrpcOutput({
          target: listen,
          tls: transport === 'mtls' ? clientTls() : undefined,
          reconnectInitialMs: 50,
          reconnectMaxMs: 500,
        }),
      );
      let restarted: Promise<void> | null = null;
      await emitRange(output, 0, N, (i) => {
        if (i === 40_000) {
          restarted = (async () => {
            receiver.child.kill('SIGTERM');
            expect(await receiver.exited).toBe(0);
            receiver = await startReceiverProcess(args);
          })();
        }
      });
      await restarted;
      expect((await output.flush(60_000)).flushed).toBe(true);
      const seqs = seqsInFile(file);
      expect(seqs.length).toBe(N);
      expect(seqs.every((s, i) => s === i)).toBe(true);
      expect(output.stats().reconnects).toBeGreaterThanOrEqual(1);
    });
  }

  it("onFull 'block' waits for room instead of dropping, and gives up at blockTimeoutMs", async () => {
    const dir = tempDir();
    const sock = `unix://${join(dir, 'b.sock')}`;
    // The receiver must be another process: a blocked main thread cannot serve an in-process one.
    const receiver = await startReceiverProcess(['--listen', sock, '--discard', '--control-stdin']);
    cleanups.push(async () => receiver.child.kill('SIGKILL'));
    // Waits for room. Emitting at once, the first ring-full comes before the worker has even
    // loaded (150-550 ms here, longer on a busy machine), so the wait must outlast start-up: with a
    // blockTimeoutMs no healthy receiver runs out, this is about waiting, not about start-up speed.
    const patient = track(createGrpcOutput({ target: sock, bufferBytes: 64 * 1024, onFull: 'block', blockTimeoutMs: 60_000 }));
    for (let i = 0; i < 20_000; i++) expect(patient.emit(numberedAlert(i))).toBe(true); // ~80 ring-fulls, nothing dropped
    expect(await patient.close(20_000)).toEqual({ flushed: true, pending: 0 });
    expect(patient.stats()).toMatchObject({ emitted: 20_000, acked: 20_000, dropped: 0 });

    // Gives up at blockTimeoutMs, once the receiver, up and acking, stops acking.
    const output = track(createGrpcOutput({ target: sock, bufferBytes: 64 * 1024, onFull: 'block', blockTimeoutMs: 300 }));
    expect(output.emit(numberedAlert(0))).toBe(true);
    expect((await output.flush(20_000)).flushed).toBe(true);
    receiver.child.stdin!.write('stall\nstats\n'); // the stats line comes once the stall is in force
    await waitFor('the receiver to stall', () => receiver.stderr().includes('stats {'));
    let refused = 0;
    const t0 = performance.now();
    for (let i = 1; i < 2000 && refused === 0; i++) if (!output.emit(numberedAlert(i))) refused++; // the ring fills and stays full
    expect(refused).toBe(1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(300); // it did wait, all of blockTimeoutMs
    expect(output.stats().drops.full).toBe(1);
    receiver.child.stdin!.write('resume\n');
    expect((await output.flush(20_000)).flushed).toBe(true);
  });

  it('SIGKILL then restart mid-stream: nothing lost, in order; only the batch in flight repeats, and it is counted as resent', async () => {
    const dir = tempDir();
    const file = join(dir, 'alerts.jsonl');
    const sock = `unix://${join(dir, 'k.sock')}`;
    const args = ['--listen', sock, '--output-file', file];
    let receiver = await startReceiverProcess(args);
    cleanups.push(async () => receiver.child.kill('SIGKILL'));
    const output = track(createGrpcOutput({ target: sock, reconnectInitialMs: 50, reconnectMaxMs: 500 }));
    let restarted: Promise<void> | null = null;
    await emitRange(output, 0, N, (i) => {
      if (i === 40_000) {
        restarted = (async () => {
          receiver.child.kill('SIGKILL');
          await receiver.exited;
          receiver = await startReceiverProcess(args);
        })();
      }
    });
    await restarted;
    expect((await output.flush(60_000)).flushed).toBe(true);
    // A SIGKILL mid-write may tear the line being written; the restarted receiver starts a fresh one.
    const torn = { count: 0 };
    const seqs = seqsInFile(file, torn);
    expect(torn.count).toBeLessThanOrEqual(1);
    // First occurrences, in file order, are exactly 0..N-1.
    const seen = new Set<number>();
    const firsts = seqs.filter((s) => !seen.has(s) && seen.add(s));
    expect(firsts.length).toBe(N);
    expect(firsts.every((s, i) => s === i)).toBe(true);
    const repeated = seqs.length - N;
    expect(repeated).toBeLessThanOrEqual(output.stats().resent);
    expect(repeated).toBeLessThanOrEqual(4096); // at most one batch
  });
});

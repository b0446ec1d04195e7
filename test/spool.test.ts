// The disk spool behind the ring (docs/spool.md): real files, real host processes killed with
// SIGKILL, real receivers. What is checked is what was delivered, in what order, and how every
// alert that was not is counted, never how fast.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, openSync, readdirSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGrpcOutput, createReceiver, type GrpcOutput, type OutputStats, type Receiver } from '../dist/src/index.js';
import { segmentHeader, segmentName } from '../dist/src/spool/format.js';
import { tempDir } from './helpers/pki.js';
import { CollectingSink, checkExactlyOnceInOrder, matchesNumbered, numberedAlert, waitFor } from './helpers/harness.js';

const HOST = fileURLToPath(new URL('./fixtures/spool-host.mjs', import.meta.url));
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Closed after the test; `closeMs` short where the receiver is down and the spool keeps what is left. */
function track<T extends GrpcOutput | Receiver>(thing: T, closeMs?: number): T {
  cleanups.push(() => thing.close(closeMs));
  return thing;
}

interface HostProcess {
  child: ChildProcess;
  /** Resolves with the JSON after `prefix ` on the first stdout line that starts with it. */
  line(prefix: string): Promise<Record<string, unknown>>;
  stderr(): string;
  exited: Promise<number | null>;
}

/** Starts test/fixtures/spool-host.mjs with its JSON argument; killed with SIGKILL after the test. */
function host(args: Record<string, unknown>): HostProcess {
  const child = spawn(process.execPath, [HOST, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  cleanups.push(() => child.kill('SIGKILL'));
  return {
    child,
    stderr: () => err,
    exited,
    async line(prefix) {
      await waitFor(() => `"${prefix}" from the host (stderr: ${err})`, () => out.split('\n').some((l) => l.startsWith(`${prefix} `)) || child.exitCode !== null, 90_000);
      const found = out.split('\n').find((l) => l.startsWith(`${prefix} `));
      if (!found) throw new Error(`host exited ${child.exitCode} without "${prefix}": ${err}`);
      return JSON.parse(found.slice(prefix.length + 1)) as Record<string, unknown>;
    },
  };
}

async function kill9(h: HostProcess): Promise<void> {
  h.child.kill('SIGKILL');
  await h.exited;
}

function startReceiver(sock: string, sink: CollectingSink): Promise<unknown> {
  const receiver = track(createReceiver({ listen: [sock], sink }));
  return receiver.start().then(() => receiver);
}

function invariantHolds(s: OutputStats): boolean {
  return s.emitted + s.replayed === s.acked + s.pending + s.dropped;
}

describe('spool: restarts', () => {
  it('a host SIGKILLed with 50,000 spooled alerts and the receiver down: the next process on the directory delivers each once, in order, field for field, before its own', async () => {
    const dir = tempDir();
    const spool = join(dir, 'spool');
    const sock = `unix://${join(dir, 'r.sock')}`;
    const first = host({ target: sock, dir: spool, from: 0, to: 50_000, then: 'spooled' });
    const before = await first.line('spooled');
    expect(before).toMatchObject({ emitted: 50_000, acked: 0, pending: 50_000, dropped: 0 });
    await kill9(first);
    expect(existsSync(join(spool, 'lock'))).toBe(true); // left behind by the killed process

    const sink = new CollectingSink();
    const receiver = (await startReceiver(sock, sink)) as Receiver;
    const second = host({ target: sock, dir: spool, from: 50_000, to: 52_000, then: 'flush' });
    const after = await second.line('stats');
    expect(after).toMatchObject({ flushed: { flushed: true, pending: 0 }, emitted: 2000, replayed: 50_000, acked: 52_000, pending: 0, dropped: 0 });
    expect(invariantHolds(after as unknown as OutputStats)).toBe(true);
    expect(second.stderr()).toMatch(/taking over the lock of process \d+, which is gone/);
    expect(second.stderr()).toMatch(/50000 alert\(s\) from an earlier process to send first/);
    expect(checkExactlyOnceInOrder(sink.alerts, 52_000)).toBeNull();
    // One producer: the directory kept its id, and its sequence numbers went on from the first process's.
    expect(receiver.stats()).toMatchObject({ accepted: 52_000, duplicates: 0, gaps: 0, producers: 1 });
    expect(await second.exited).toBe(0);
  });

  it('a host SIGKILLed while delivering: the replay overlaps what the receiver had, and its dedupe makes it exactly once', async () => {
    const dir = tempDir();
    const spool = join(dir, 'spool');
    const sock = `unix://${join(dir, 'r.sock')}`;
    // 100 ms a request: delivery at most ~16,000/s, so the kill lands mid-delivery whatever the CPU does.
    const sink = new (class extends CollectingSink {
      override async write(alerts: readonly Buffer[]): Promise<void> {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return super.write(alerts);
      }
    })();
    const receiver = (await startReceiver(sock, sink)) as Receiver;
    const first = host({ target: sock, dir: spool, from: 0, to: 40_000, then: 'spooled' });
    await first.line('spooled');
    await waitFor('some alerts delivered', () => sink.alerts.length >= 10_000, 60_000);
    await kill9(first); // mid-stream: acks in flight, the acked file behind
    await waitFor('the receiver to see the stream end', () => receiver.stats().activeStreams === 0);
    // A request the sink was writing when the stream ended still completes: wait until nothing moves.
    let delivered = -1;
    while (delivered !== sink.alerts.length) {
      delivered = sink.alerts.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(delivered).toBeLessThan(40_000);

    const second = host({ target: sock, dir: spool, from: 40_000, to: 41_000, then: 'flush' });
    const after = await second.line('stats');
    expect(after).toMatchObject({ flushed: { flushed: true, pending: 0 }, emitted: 1000, pending: 0, dropped: 0 });
    expect(invariantHolds(after as unknown as OutputStats)).toBe(true);
    expect(checkExactlyOnceInOrder(sink.alerts, 41_000)).toBeNull();
    const r = receiver.stats();
    expect(r).toMatchObject({ accepted: 41_000, gaps: 0, producers: 1 });
    // What the second process replayed = what was not acknowledged on disk; the receiver skipped the part it had.
    expect((after.replayed as number) + 1000).toBe(41_000 - delivered + r.duplicates);
    // The receiver acks what it had from the first process too: that is expected, not a receiver bug.
    expect(second.stderr()).not.toMatch(/but only #\d+ was sent/);
  });
});

/** A socket path nobody listens on yet. */
function socketIn(dir: string): string {
  return `unix://${join(dir, 'r.sock')}`;
}

/** Emits from..to-1, waiting whenever the ring is half full: the worker keeps moving alerts to disk. */
async function emitPaced(output: GrpcOutput, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    while (output.stats().pendingBytes > output.stats().bufferBytes / 2) await new Promise((resolve) => setTimeout(resolve, 1));
    output.emit(numberedAlert(i));
  }
}

/** A temp directory with a receiver (in this process) listening on a socket in it. */
async function receiverInTempDir(): Promise<{ dir: string; sock: string; sink: CollectingSink; receiver: Receiver }> {
  const dir = tempDir();
  const sock = socketIn(dir);
  const sink = new CollectingSink();
  const receiver = (await startReceiver(sock, sink)) as Receiver;
  return { dir, sock, sink, receiver };
}

async function untilSpooled(output: GrpcOutput): Promise<void> {
  await waitFor('every alert out of the ring', () => output.stats().pendingBytes === 0 && output.stats().spool?.state === 'open');
}

describe('spool: a worker thread crash', () => {
  it('the replacement thread goes on from the ring and the spool: nothing lost or repeated', async () => {
    const { dir, sock, sink, receiver } = await receiverInTempDir();
    const output = track(createGrpcOutput({ target: sock, spool: { dir: join(dir, 'spool') } }));
    const threads = (output as unknown as { workerThreads(): { terminate(): Promise<number> }[] }).workerThreads();
    await emitPaced(output, 0, 30_000);
    await waitFor('some acks', () => output.stats().acked > 0);
    await threads[0]!.terminate(); // mid-stream: records in the ring, in the spool, in flight
    await emitPaced(output, 30_000, 60_000);
    expect((await output.flush(60_000)).flushed).toBe(true);
    const s = output.stats();
    expect(s.workerRestarts).toBeGreaterThanOrEqual(1);
    expect(s).toMatchObject({ emitted: 60_000, acked: 60_000, pending: 0, dropped: 0 });
    expect(checkExactlyOnceInOrder(sink.alerts, 60_000)).toBeNull();
    expect(receiver.stats()).toMatchObject({ accepted: 60_000, gaps: 0, producers: 1 });
  });
});

describe('producer identity without a spool', () => {
  it('a producerId reused by a new transmitter (a restarted process) is not taken for the old one: nothing skipped as a duplicate', async () => {
    const { sock, sink, receiver } = await receiverInTempDir();
    const before = createGrpcOutput({ target: sock, producerId: 'node-1' });
    for (let i = 0; i < 500; i++) before.emit(numberedAlert(i));
    expect(await before.close()).toEqual({ flushed: true, pending: 0 });
    // Its sequence numbers start at 1 again; under the same name they would all be skipped.
    const after = track(createGrpcOutput({ target: sock, producerId: 'node-1' }));
    for (let i = 500; i < 1000; i++) after.emit(numberedAlert(i));
    expect((await after.flush(20_000)).flushed).toBe(true);
    expect(checkExactlyOnceInOrder(sink.alerts, 1000)).toBeNull();
    expect(receiver.stats()).toMatchObject({ accepted: 1000, duplicates: 0, producers: 2 });
  });
});

describe('spool: outages', () => {
  it('an outage far longer than the ring holds: no drops with a spool (and drops without), everything delivered after, in order', async () => {
    const dir = tempDir();
    const [withSock, withoutSock] = [`unix://${join(dir, 'a.sock')}`, `unix://${join(dir, 'b.sock')}`];
    const ring = { bufferBytes: 256 * 1024, reconnectInitialMs: 50, reconnectMaxMs: 200 }; // ~400 alerts
    const spooled = track(createGrpcOutput({ target: withSock, ...ring, spool: { dir: join(dir, 'spool') } }));
    const plain = track(createGrpcOutput({ target: withoutSock, ...ring }));
    const N = 30_000;
    for (let i = 0; i < N; i++) {
      while (spooled.stats().pendingBytes > spooled.stats().bufferBytes / 2) await new Promise((resolve) => setTimeout(resolve, 1));
      spooled.emit(numberedAlert(i));
      plain.emit(numberedAlert(i));
    }
    await untilSpooled(spooled);
    const during = spooled.stats();
    expect(during).toMatchObject({ emitted: N, acked: 0, pending: N, dropped: 0, pendingBytes: 0 });
    expect(during.spool).toMatchObject({ state: 'open', alerts: N });
    expect(during.spool!.bytes).toBeGreaterThan(N * 100); // on disk, not in memory
    expect(plain.stats().drops.full).toBeGreaterThan(N / 2); // the same outage without a spool

    const sink = new CollectingSink();
    await startReceiver(withSock, sink);
    expect(await spooled.flush(60_000)).toEqual({ flushed: true, pending: 0 });
    expect(checkExactlyOnceInOrder(sink.alerts, N)).toBeNull();
    const after = spooled.stats();
    expect(after).toMatchObject({ acked: N, pending: 0, dropped: 0 });
    expect(after.spool).toMatchObject({ alerts: 0, oldestUnackedAgeMs: 0 });
  });

  for (const whenFull of ['drop_newest', 'drop_oldest'] as const) {
    it(`a spool smaller than the outage: whenFull ${whenFull} gives up ${whenFull === 'drop_newest' ? 'the newest' : 'the oldest'} alerts, counted as spool_full, and delivers the rest in order`, async () => {
      const dir = tempDir();
      const sock = socketIn(dir);
      const output = track(createGrpcOutput({
        target: sock,
        reconnectInitialMs: 50,
        reconnectMaxMs: 200,
        maxAlertBytes: 16 * 1024,
        spool: { dir: join(dir, 'spool'), maxBytes: 1024 * 1024, whenFull },
      }));
      const N = 20_000; // ~4.7 MB of alerts for a 1 MiB spool
      await emitPaced(output, 0, N);
      await untilSpooled(output);
      const during = output.stats();
      expect(during.drops.spool_full).toBeGreaterThan(N / 2);
      expect(during.dropped).toBe(during.drops.spool_full); // nothing lost any other way
      expect(during.spool!.bytes).toBeLessThanOrEqual(1024 * 1024);
      expect(invariantHolds(during)).toBe(true);

      const sink = new CollectingSink();
      const receiver = (await startReceiver(sock, sink)) as Receiver;
      expect((await output.flush(30_000)).flushed).toBe(true);
      const after = output.stats();
      expect(after.acked + after.drops.spool_full).toBe(N);
      expect(after).toMatchObject({ pending: 0, dropped: after.drops.spool_full });
      const kept = after.acked;
      const first = whenFull === 'drop_newest' ? 0 : N - kept;
      expect(sink.seqs()).toEqual(Array.from({ length: kept }, (_, k) => first + k));
      expect(sink.alerts.every((a, k) => matchesNumbered(a, first + k))).toBe(true);
      expect(receiver.stats().gaps).toBe(0);
    });
  }
});

/** The segment files of a spool directory, oldest first. */
function segmentFiles(spool: string): string[] {
  return readdirSync(spool).filter((n) => n.endsWith('.seg')).sort().map((n) => join(spool, n));
}

/** Start offset, sequence number and length of every whole record in a segment file (format: docs/spool.md). */
function recordsIn(file: string): Array<{ at: number; seq: number; length: number }> {
  const b = readFileSync(file);
  const out: Array<{ at: number; seq: number; length: number }> = [];
  for (let at = 32; at + 32 <= b.length; ) {
    const length = b.readUInt32LE(at + 4);
    if (at + 32 + length > b.length) break;
    out.push({ at, seq: b.readDoubleLE(at + 16), length });
    at += 32 + length;
  }
  return out;
}

/** A 2 MiB spool has 256 KiB segments: about 1,100 of these alerts each. */
const SMALL_SPOOL = { maxBytes: 2 * 1024 * 1024 };

/** A spool left by a process that could not deliver: `n` alerts, #1..#n carrying alerts 0..n-1. */
async function leftoverSpool(n: number): Promise<{ dir: string; spool: string; sock: string }> {
  const dir = tempDir();
  const spool = join(dir, 'spool');
  const sock = socketIn(dir);
  const output = createGrpcOutput({ target: sock, reconnectInitialMs: 50, maxAlertBytes: 8 * 1024, spool: { dir: spool, ...SMALL_SPOOL } });
  await emitPaced(output, 0, n);
  await untilSpooled(output);
  const closed = await output.close(100);
  expect(closed).toEqual({ flushed: false, pending: n });
  return { dir, spool, sock };
}

/** A new process's output on the damaged spool, and the receiver it delivers to; resolves once it flushed. */
async function recover(spool: string, sock: string): Promise<{ sink: CollectingSink; stats: OutputStats; log: string[] }> {
  const sink = new CollectingSink();
  await startReceiver(sock, sink);
  const log: string[] = [];
  const output = track(createGrpcOutput({ target: sock, maxAlertBytes: 8 * 1024, log: (line) => log.push(line), spool: { dir: spool, ...SMALL_SPOOL } }));
  expect((await output.flush(30_000)).flushed).toBe(true);
  const stats = output.stats();
  expect(invariantHolds(stats)).toBe(true);
  return { sink, stats, log };
}

/** The alert numbers delivered are exactly 0..n-1 without `missing`, in order, each field for field. */
function deliveredAllBut(sink: CollectingSink, n: number, missing: ReadonlySet<number>): void {
  const expected = Array.from({ length: n }, (_, i) => i).filter((i) => !missing.has(i));
  expect(sink.seqs()).toEqual(expected);
  expect(sink.alerts.every((a, k) => matchesNumbered(a, expected[k]!))).toBe(true);
}

describe('spool: damage', () => {
  const N = 6000; // five or six segments

  const tails = {
    'half a record': (whole: Buffer, final: { at: number; length: number }) => whole.subarray(final.at, final.at + 32 + Math.floor(final.length / 2)),
    'stale bytes holding an older whole record': (whole: Buffer) => whole.subarray(32, 32 + 300),
  };
  for (const [kind, tornOf] of Object.entries(tails)) it(`a torn tail (${kind} after the last record) is cut back; every whole record is delivered`, async () => {
    const { spool, sock } = await leftoverSpool(N);
    const last = segmentFiles(spool).at(-1)!;
    const whole = readFileSync(last);
    const torn = tornOf(whole, recordsIn(last).at(-1)!);
    const fd = openSync(last, 'a');
    writeSync(fd, torn);
    closeSync(fd);
    const { sink, stats, log } = await recover(spool, sock);
    expect(log.join('\n')).toMatch(new RegExp(`cut back ${torn.length} byte\\(s\\) after its last whole record`));
    deliveredAllBut(sink, N, new Set());
    expect(stats).toMatchObject({ replayed: N, acked: N, dropped: 0 });
  });

  it('flipped bytes in a record in the middle: that record is skipped and counted as corrupt, the rest delivered', async () => {
    const { spool, sock } = await leftoverSpool(N);
    const file = segmentFiles(spool)[0]!;
    const records = recordsIn(file);
    const victim = records[Math.floor(records.length / 2)]!;
    const b = readFileSync(file);
    b[victim.at + 32 + 20] ^= 0xff;
    b[victim.at + 32 + 21] ^= 0x55;
    writeFileSync(file, b);
    const { sink, stats, log } = await recover(spool, sock);
    expect(stats.drops.corrupt).toBe(1);
    expect(stats).toMatchObject({ replayed: N, acked: N - 1, dropped: 1 });
    expect(log.join('\n')).toMatch(new RegExp(`1 alert\\(s\\) #${victim.seq}\\.\\.#${victim.seq} lost: damaged bytes`));
    deliveredAllBut(sink, N, new Set([victim.seq - 1]));
  });

  it('a segment truncated in the middle of the spool: what it lost is counted as corrupt, the rest delivered', async () => {
    const { spool, sock } = await leftoverSpool(N);
    const files = segmentFiles(spool);
    expect(files.length).toBeGreaterThanOrEqual(3);
    const file = files[1]!;
    truncateSync(file, Math.floor(statSync(file).size / 2));
    const kept = recordsIn(file);
    const nextFirst = Number(/(\d{16})\.seg$/.exec(files[2]!)![1]);
    const lost = new Set<number>();
    for (let seq = kept.at(-1)!.seq + 1; seq < nextFirst; seq++) lost.add(seq - 1);
    const { sink, stats, log } = await recover(spool, sock);
    expect(stats.drops.corrupt).toBe(lost.size);
    expect(log.join('\n')).toMatch(/lost: .*(cut short|ends before them)/);
    deliveredAllBut(sink, N, lost);
  });

  it('a segment replaced by garbage is set aside with a log line; its alerts are counted as corrupt, the rest delivered', async () => {
    const { spool, sock } = await leftoverSpool(N);
    const files = segmentFiles(spool);
    const file = files[1]!;
    const first = Number(/(\d{16})\.seg$/.exec(file)![1]);
    const nextFirst = Number(/(\d{16})\.seg$/.exec(files[2]!)![1]);
    const garbage = Buffer.alloc(statSync(file).size);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
    writeFileSync(file, garbage);
    const { sink, stats, log } = await recover(spool, sock);
    const name = file.slice(file.lastIndexOf('/') + 1);
    expect(log.join('\n')).toMatch(new RegExp(`segment ${name} is unreadable \\(not a spool segment \\(bad magic\\)\\); set aside as ${name}\\.bad`));
    expect(existsSync(`${file}.bad`)).toBe(true);
    const lost = new Set(Array.from({ length: nextFirst - first }, (_, k) => first + k - 1));
    expect(stats.drops.corrupt).toBe(lost.size);
    deliveredAllBut(sink, N, lost);
  });
});

describe('spool: the directory', () => {
  it('a segment left with only its header (a crash before its first record) is freed, and the new segment that takes its name keeps its alerts across a restart', async () => {
    const dir = tempDir();
    const spool = join(dir, 'spool');
    const sock = socketIn(dir);
    const first = new CollectingSink();
    const receiver = track(createReceiver({ listen: [sock], sink: first }));
    await receiver.start();
    const delivered = createGrpcOutput({ target: sock, maxAlertBytes: 8 * 1024, spool: { dir: spool, ...SMALL_SPOOL } });
    for (let i = 0; i < 500; i++) delivered.emit(numberedAlert(i));
    expect(await delivered.close(30_000)).toEqual({ flushed: true, pending: 0 });
    expect(first.seqs()).toEqual(Array.from({ length: 500 }, (_, k) => k));
    await receiver.close();
    // The next segment as a crash right after creating it leaves it: a header, no record.
    writeFileSync(join(spool, segmentName(501)), segmentHeader(501, Date.now()));
    const held = createGrpcOutput({ target: sock, reconnectInitialMs: 50, maxAlertBytes: 8 * 1024, spool: { dir: spool, ...SMALL_SPOOL } });
    await emitPaced(held, 500, 1000);
    await untilSpooled(held);
    expect(await held.close(100)).toEqual({ flushed: false, pending: 500 });
    const files = segmentFiles(spool);
    expect(files.map((f) => basename(f))).toEqual([segmentName(501)]);
    expect(recordsIn(files[0]!).map((r) => r.seq)).toEqual(Array.from({ length: 500 }, (_, k) => 501 + k));
    const { sink, stats } = await recover(spool, sock);
    expect(sink.seqs()).toEqual(Array.from({ length: 500 }, (_, k) => 500 + k));
    expect(stats).toMatchObject({ replayed: 500, acked: 500, dropped: 0 });
  });

  it('a second output on the same directory is refused: in this process, and in another one, naming the holder', async () => {
    const dir = tempDir();
    const spool = join(dir, 'spool');
    track(createGrpcOutput({ target: socketIn(dir), spool: { dir: spool } }));
    expect(() => createGrpcOutput({ target: socketIn(dir), spool: { dir: spool } })).toThrow(/spool\.dir .* is already used by another output of this process/);
    const other = host({ target: socketIn(dir), dir: spool, from: 0, to: 1, then: 'flush' });
    expect(await other.exited).not.toBe(0);
    expect(other.stderr()).toContain(`spool.dir ${spool} is in use by process ${process.pid} (lock file ${join(spool, 'lock')}); one process per spool directory`);
  });

  it('the lock of a process that is gone is taken over, with a log line', async () => {
    const dir = tempDir();
    const spool = join(dir, 'spool');
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => gone.on('exit', resolve));
    (await import('node:fs')).mkdirSync(spool);
    writeFileSync(join(spool, 'lock'), `${gone.pid}\n`);
    const log: string[] = [];
    track(createGrpcOutput({ target: socketIn(dir), spool: { dir: spool }, log: (line) => log.push(line) }));
    expect(log).toContain(`falco-grpc-output: spool ${spool}: taking over the lock of process ${gone.pid}, which is gone`);
    expect(readFileSync(join(spool, 'lock'), 'utf8').trim()).toBe(String(process.pid));
  });

  it('a spool directory that cannot be created, or is not writable, is refused by the constructor with the reason', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), 'x');
    expect(() => createGrpcOutput({ target: socketIn(dir), spool: { dir: join(dir, 'file', 'spool') } })).toThrow(/spool\.dir .*file\/spool cannot be created: ENOTDIR/);

    // Root writes anywhere: the read-only directory is tried by a process of another user then.
    const readOnly = join(dir, 'ro');
    (await import('node:fs')).mkdirSync(readOnly, { mode: 0o555 });
    (await import('node:fs')).chmodSync(dir, 0o755);
    const asRoot = process.getuid?.() === 0;
    const child = spawn(asRoot ? nodeForOtherUsers(dir) : process.execPath, [HOST, JSON.stringify({ target: socketIn(dir), dir: readOnly, from: 0, to: 1, then: 'flush' })], {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    expect(await new Promise((resolve) => child.on('exit', resolve))).not.toBe(0);
    expect(stderr).toContain(`spool.dir ${readOnly} is not writable: EACCES`);
  });

  it('disk errors are counted and surfaced as lastError, never a crash; the alerts wait and are delivered once the disk works', async () => {
    const dir = tempDir();
    const spool = join(dir, 'spool');
    const sock = socketIn(dir);
    const sink = new CollectingSink();
    await startReceiver(sock, sink); // up: no gRPC error to take lastError's place
    const log: string[] = [];
    const output = track(createGrpcOutput({ target: sock, spool: { dir: spool }, log: (line) => log.push(line) }));
    await waitFor('the spool open', () => output.stats().spool?.state === 'open');
    // Where the first segment will be created: every write to it fails with ENOSPC.
    symlinkSync('/dev/full', join(spool, '0000000000000001.seg'));
    for (let i = 0; i < 100; i++) expect(output.emit(numberedAlert(i))).toBe(true);
    await waitFor('a disk error', () => (output.stats().spool?.diskErrors ?? 0) > 0);
    await waitFor('the error as lastError', () => output.stats().lastError !== null);
    expect(output.stats().lastError).toMatch(new RegExp(`^spool ${spool}: writing failed: ENOSPC`));
    // The log line is a message of its own from the worker: it may arrive a moment after lastError.
    await waitFor('the log line', () => /writing failed: ENOSPC: no space left on device.*the write is tried again/.test(log.join('\n')));
    expect(output.stats()).toMatchObject({ emitted: 100, dropped: 0 });
    // The failed segment is removed (an empty one is worth nothing), so the next attempt writes a real file.
    expect((await output.flush(30_000)).flushed).toBe(true);
    expect(checkExactlyOnceInOrder(sink.alerts, 100)).toBeNull();
  });
});

describe('spool: classic outputs', () => {
  it('a file output with a spool keeps what it cannot write on disk, across a restart, and writes it once the file can be opened', async () => {
    const dir = tempDir();
    const spool = join(dir, 'spool');
    const file = join(dir, 'not-yet', 'alerts.json');
    const { createFileOutput, createOutputs } = await import('../dist/src/index.js');
    const first = createFileOutput({ filename: file, spool: { dir: spool }, format: { json: true } });
    for (let i = 0; i < 500; i++) first.emit(numberedAlert(i));
    await waitFor('the alerts on disk and the channel failing', () => first.stats().pendingBytes === 0 && first.stats().lastError !== null);
    expect(first.stats()).toMatchObject({ emitted: 500, acked: 0, pending: 500, dropped: 0 });
    expect((await first.close(300)).pending).toBe(500);

    (await import('node:fs')).mkdirSync(join(dir, 'not-yet'));
    const second = createOutputs({ file: { filename: file, spool: { dir: spool } }, format: { json: true } });
    cleanups.push(() => second.close());
    expect((await second.flush(20_000)).flushed).toBe(true);
    const stats = Object.values(second.stats().outputs)[0]!;
    expect(stats).toMatchObject({ emitted: 0, replayed: 500, acked: 500, pending: 0, dropped: 0 });
    const seqs = readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { output_fields: { seq: number } }).output_fields.seq);
    expect(seqs).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('createOutputs takes a spool per output, not one for all', async () => {
    const { createOutputs } = await import('../dist/src/index.js');
    expect(() => createOutputs({ stdout: true, spool: { dir: tempDir() } } as never)).toThrow(/spool goes in each output's own settings/);
  });
});

describe('spool: send --spool', () => {
  it('send --spool SIGKILLed mid-stream and restarted on the same input: nothing it had read is lost, and the replay comes first', async () => {
    const dir = tempDir();
    const spool = join(dir, 'spool');
    const input = join(dir, 'in.jsonl');
    const out = join(dir, 'out.jsonl');
    const N = 30_000;
    const line = (i: number): string =>
      JSON.stringify({ time: '2025-11-27T05:00:00.000000970Z', rule: 'Spooled', priority: 'Notice', source: 'syscall', hostname: 'h', output: `alert ${i}`, tags: [], output_fields: { seq: i } });
    writeFileSync(input, `${Array.from({ length: N }, (_, i) => line(i)).join('\n')}\n`);
    const { startReceiverProcess, CLI } = await import('./helpers/harness.js');
    const receiver = await startReceiverProcess(['--listen', `unix://${join(dir, 'r.sock')}`, '--output-file', out, '--control-stdin']);
    cleanups.push(() => receiver.child.kill('SIGKILL'));
    receiver.child.stdin!.write('stall\n'); // no acks: what the first run reads waits in its spool
    const send = (): { child: ChildProcess; stderr: () => string; exited: Promise<number | null> } => {
      const child = spawn(process.execPath, [CLI, 'send', '--target', receiver.addresses[0]!, '--spool', spool, '--input', input, '--flush-timeout', '30'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      cleanups.push(() => child.kill('SIGKILL'));
      return { child, stderr: () => stderr, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
    };
    const spooledBytes = (): number => (existsSync(spool) ? segmentFiles(spool).reduce((n, f) => n + statSync(f).size, 0) : 0);

    const first = send();
    await waitFor('a part of the input in the spool', () => spooledBytes() > 1024 * 1024, 60_000);
    first.child.kill('SIGKILL');
    await first.exited;
    receiver.child.stdin!.write('resume\n');

    const second = send();
    expect(await second.exited).toBe(0);
    const summary = /emitted 30000 \(\+(\d+) from the spool of an earlier run\), acked (\d+), dropped 0/.exec(second.stderr());
    expect(summary, second.stderr()).not.toBeNull();
    const replayed = Number(summary![1]);
    expect(replayed).toBeGreaterThan(0);
    expect(Number(summary![2])).toBe(N + replayed);

    receiver.child.kill('SIGTERM');
    await receiver.exited;
    const seqs = readFileSync(out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { output_fields: { seq: number } }).output_fields.seq);
    // The first run's alerts (what the receiver took before the kill, then the replay), then the second run's.
    const firstRun = seqs.slice(0, seqs.length - N);
    expect(firstRun).toEqual(Array.from({ length: firstRun.length }, (_, i) => i));
    expect(firstRun.length).toBeGreaterThanOrEqual(replayed);
    expect(seqs.slice(-N)).toEqual(Array.from({ length: N }, (_, i) => i));
  });
});

describe('spool: config file and metrics', () => {
  it('reads spool: per output in a config file, checks its keys, and needs a dir', async () => {
    const { parseConfigText } = await import('../dist/src/config/load.js');
    const { parseOutputsConfig } = await import('../dist/src/config/outputs-config.js');
    const { parseSendSettings } = await import('../dist/src/config/send-config.js');
    const text = [
      'file_output:',
      '  enabled: true',
      '  filename: /var/log/falco.json',
      '  spool: { dir: /var/spool/falco-file, max_bytes: 2097152, when_full: drop_oldest, fsync: always }',
      'falco_grpc_output:',
      '  send:',
      '    target: unix:///run/r.sock',
      '    spool: { dir: /var/spool/falco-grpc, max_bytes: 4194304 }',
      '',
    ].join('\n');
    const config = parseConfigText(text, 'f.yaml');
    expect(parseOutputsConfig(config).file).toEqual({
      filename: '/var/log/falco.json',
      keepAlive: false,
      spool: { dir: '/var/spool/falco-file', maxBytes: 2097152, whenFull: 'drop_oldest', fsync: 'always' },
    });
    expect(parseSendSettings(config, () => {})).toMatchObject({ target: 'unix:///run/r.sock', spool: '/var/spool/falco-grpc', spoolMaxBytes: 4194304 });
    const bad = (spool: string) => () => parseOutputsConfig(parseConfigText(`file_output:\n  enabled: true\n  filename: /x\n  spool: ${spool}\n`, 'b.yaml'));
    expect(bad('{ dri: /d }')).toThrow(/^b\.yaml:4: file_output\.spool\.dri: unknown key; did you mean dir\? \(known here: dir, max_bytes, when_full, fsync\)$/);
    expect(bad('{ max_bytes: 100 }')).toThrow(/^b\.yaml:4: file_output\.spool\.dir: required: this output's own spool directory$/);
    expect(bad('{ dir: /d, when_full: block }')).toThrow(/file_output\.spool\.when_full: expected one of drop_newest, drop_oldest, got "block"/);
  });

  it('the metrics of an output with a spool: alerts and bytes in it, the oldest unacknowledged age, replay progress', async () => {
    const { createMetricsRegistry } = await import('../dist/src/metrics/registry.js');
    const { registerOutputMetrics } = await import('../dist/src/metrics/send-metrics.js');
    const dir = tempDir();
    const output = track(createGrpcOutput({ target: socketIn(dir), reconnectInitialMs: 50, spool: { dir: join(dir, 'spool'), maxBytes: 4 * 1024 * 1024 } }), 200);
    await emitPaced(output, 0, 1000);
    await untilSpooled(output);
    await new Promise((resolve) => setTimeout(resolve, 600)); // the age gauge moves on its own clock
    const registry = createMetricsRegistry();
    registerOutputMetrics(registry, [output as never]);
    const metrics = await registry.getMetricsAsJSON();
    const value = (name: string, labels: Record<string, string> = {}): number | undefined =>
      metrics.find((m) => m.name === `falco_grpc_output_${name}`)?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
    expect(value('spool_alerts')).toBe(1000);
    expect(value('spool_bytes')).toBe(output.stats().spool!.bytes);
    expect(value('spool_max_bytes')).toBe(4 * 1024 * 1024);
    expect(value('spool_oldest_unacked_age_seconds')).toBeGreaterThan(0.5);
    expect(value('spool_replay_alerts')).toBe(0);
    expect(value('alerts_pending')).toBe(1000);
    expect(value('alerts_dropped_total', { reason: 'spool_full' })).toBe(0);
    expect(value('spool_disk_errors_total')).toBe(0);
  });
});

describe('spool: a power loss', () => {
  it('a directory left open across a reboot takes a new producer id: new alerts cannot be taken for ones the disk lost but the receiver has', async () => {
    const dir = tempDir();
    const spool = join(dir, 'spool');
    const sock = socketIn(dir);
    const sink = new CollectingSink();
    const receiver = (await startReceiver(sock, sink)) as Receiver;
    const before = createGrpcOutput({ target: sock, spool: { dir: spool } });
    for (let i = 0; i < 1000; i++) before.emit(numberedAlert(i));
    expect((await before.close()).flushed).toBe(true);
    // What a power loss can leave: the last 500 records and the acked file gone, the process's
    // open mark (with another boot's id) still there. The receiver has all 1000.
    const [segment] = segmentFiles(spool);
    truncateSync(segment!, recordsIn(segment!)[500]!.at);
    (await import('node:fs')).rmSync(join(spool, 'acked'));
    writeFileSync(join(spool, 'open-since-boot'), 'a-boot-before-the-power-loss\n');

    const log: string[] = [];
    const after = track(createGrpcOutput({ target: sock, spool: { dir: spool }, log: (line) => log.push(line) }));
    for (let i = 1000; i < 1100; i++) after.emit(numberedAlert(i));
    expect((await after.flush(20_000)).flushed).toBe(true);
    expect(log.join('\n')).toMatch(/was in use when the machine went down: .* new alerts go under a new producer id/);
    // Under the old id, #501.. would have been skipped as duplicates of alerts 500..999.
    const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);
    expect(sink.seqs()).toEqual([...range(0, 1000), ...range(0, 500), ...range(1000, 1100)]);
    expect(receiver.stats()).toMatchObject({ producers: 2, duplicates: 0 });
  });
});

/**
 * This Node's binary, runnable by another user: itself where every directory above it lets others
 * in (/usr/bin/node), else a copy in `dir` (npx's Node lives under /root, which others cannot enter).
 */
function nodeForOtherUsers(dir: string): string {
  const othersMayEnter = (path: string): boolean => (statSync(path).mode & 0o001) !== 0;
  let ok = othersMayEnter(process.execPath);
  for (let d = dirname(process.execPath); ok && d !== dirname(d); d = dirname(d)) ok = othersMayEnter(d);
  if (ok) return process.execPath;
  const copy = join(dir, 'node');
  copyFileSync(process.execPath, copy);
  chmodSync(copy, 0o755);
  return copy;
}

// The disk spool behind the ring (docs/spool.md): real files, real host processes killed with
// SIGKILL, real receivers. What is checked is what was delivered, in what order, and how every
// alert that was not is counted, never how fast.

import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGrpcOutput, createReceiver, type GrpcOutput, type OutputStats, type Receiver } from '../dist/src/index.js';
import { tempDir } from './helpers/pki.js';
import { CollectingSink, checkExactlyOnceInOrder, matchesNumbered, numberedAlert, waitFor } from './helpers/harness.js';

const HOST = fileURLToPath(new URL('./fixtures/spool-host.mjs', import.meta.url));
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track<T extends GrpcOutput | Receiver>(thing: T): T {
  cleanups.push(() => thing.close());
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
      await waitFor(`"${prefix}" from the host (stderr: ${err})`, () => out.split('\n').some((l) => l.startsWith(`${prefix} `)) || child.exitCode !== null, 90_000);
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
    const sink = new CollectingSink();
    const receiver = (await startReceiver(sock, sink)) as Receiver;
    sink.stall(); // acks held back until every alert is on disk, so the kill lands mid-delivery
    const first = host({ target: sock, dir: spool, from: 0, to: 40_000, then: 'spooled' });
    await first.line('spooled');
    sink.release();
    await waitFor('some alerts delivered', () => sink.alerts.length >= 10_000, 60_000);
    await kill9(first); // mid-stream: acks in flight, the acked file behind
    await waitFor('the receiver to see the stream end', () => receiver.stats().activeStreams === 0);
    const delivered = sink.alerts.length;
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
  });
});

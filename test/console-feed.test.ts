// The console's live stream and the receiver's read-only view, in process: a real receiver on a
// unix socket, real transmitters (worker threads) and raw Publish streams, and Server-Sent Events
// read over real HTTP. Every alert is accounted for on every page (sent, or counted as skipped),
// a page that stops reading is held back instead of buffered, and the producer table counts
// what each producer's sequence numbers did.

import { afterEach, describe, expect, it } from 'vitest';
import { request, type ClientRequest } from 'node:http';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createConsole, createGrpcOutput, createReceiver, decodeAlert, DiscardSink, type Sink } from '../dist/src/index.js';
import { AlertEncoder } from '../dist/src/codec/alert.js';
import { PublishRequest } from '../dist/src/gen/falco/transmit/v1/transmit.js';
import { numberedAlert, waitFor } from './helpers/harness.js';
import { tempDir } from './helpers/pki.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface AlertsEvent {
  through: number;
  skipped: number;
  alerts: Array<{ n: number; rule: string; fields: Array<[string, string]> }>;
}

/** An /api/events reader: every alerts event, parsed; `pause()` stops reading the socket. */
function readEvents(url: string) {
  const events: AlertsEvent[] = [];
  let states = 0;
  let req!: ClientRequest;
  let socketPaused = false;
  const pending = { text: '' };
  const opened = new Promise<void>((resolve, reject) => {
    req = request(`${url}api/events`, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        pending.text += chunk;
        let end: number;
        while ((end = pending.text.indexOf('\n\n')) !== -1) {
          const block = pending.text.slice(0, end);
          pending.text = pending.text.slice(end + 2);
          const kind = /^event: (\w+)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (kind === 'alerts') events.push(JSON.parse(data!) as AlertsEvent);
          if (kind === 'state') states++;
        }
      });
      resolve();
    });
    req.on('error', reject);
    req.end();
  });
  return {
    events,
    states: () => states,
    opened,
    pause: () => {
      socketPaused = true;
      req.socket?.pause();
    },
    resume: () => {
      socketPaused = false;
      req.socket?.resume();
    },
    paused: () => socketPaused,
    close: () => req.destroy(),
  };
}

/** Each event covers exactly the alerts after the one before it: sent ones numbered in order, the rest counted as skipped. */
function accountingProblem(events: readonly AlertsEvent[]): string | null {
  let through = events[0]?.through ?? 0;
  for (const [i, e] of events.slice(1).entries()) {
    if (e.alerts.length + e.skipped !== e.through - through) return `event ${i + 1}: ${e.alerts.length} sent + ${e.skipped} skipped != ${e.through} - ${through}`;
    let last = through + e.skipped;
    for (const a of e.alerts) {
      if (a.n <= last || a.n > e.through) return `event ${i + 1}: alert #${a.n} out of order after #${last}`;
      last = a.n;
    }
    through = e.through;
  }
  return null;
}

async function consoleOnReceiver(options: { sink?: Sink; ringAlerts?: number; alertsPerSecond?: number; maxBacklogBytes?: number; maxPages?: number } = {}) {
  const dir = tempDir('fgo-console-feed-');
  const target = `unix://${join(dir, 'r.sock')}`;
  const receiver = createReceiver({ listen: [target], sink: options.sink ?? new DiscardSink(), log: () => {} });
  const ui = createConsole({
    listen: '127.0.0.1:0',
    receiver,
    feed: { ringAlerts: options.ringAlerts ?? 1000, alertsPerSecond: options.alertsPerSecond ?? 1000 },
    stream: { tickMs: 50, maxBacklogBytes: options.maxBacklogBytes ?? 1024 * 1024, maxPages: options.maxPages ?? 64 },
  });
  const url = await ui.start();
  await receiver.start();
  cleanups.push(() => receiver.close(), () => ui.close());
  return { receiver, ui, url, target };
}

describe('console stream', () => {
  it('accounts for every alert on every page; a page that stops reading is held back, not buffered, and told what it missed', async () => {
    const ring = 200;
    const maxBacklog = 64 * 1024;
    // No rate limit beyond the ring: the stalled page's socket fills sooner.
    const { receiver, ui, url, target } = await consoleOnReceiver({ ringAlerts: ring, alertsPerSecond: 1e9, maxBacklogBytes: maxBacklog });
    const reader = readEvents(url);
    const stalled = readEvents(url);
    cleanups.push(reader.close, stalled.close);
    await Promise.all([reader.opened, stalled.opened]);
    await waitFor('both pages connected', () => ui.stream().pages === 2);
    stalled.pause();

    const output = createGrpcOutput({ target, bufferBytes: 8 * 1024 * 1024 });
    cleanups.push(() => output.close(5000));
    // Flood until the stalled page's socket is full and the console holds events back (bounded: 2M alerts at most).
    let emitted = 0;
    while (ui.stream().eventsHeldBack === 0) {
      if (emitted >= 2_000_000) throw new Error(`never held back: ${JSON.stringify(ui.stream())}`);
      for (let i = 0; i < 5000 && output.emit(numberedAlert(emitted)); i++) emitted++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(ui.stream().largestBacklogBytes).toBeLessThanOrEqual(maxBacklog + 2 * ring * 1024 + 64 * 1024);
    }
    expect((await output.flush(60_000)).flushed).toBe(true);
    const total = receiver.stats().accepted;
    expect(total).toBe(output.stats().acked);
    stalled.resume();
    await waitFor('both pages told of every alert', () => reader.events.at(-1)?.through === total && stalled.events.at(-1)?.through === total, 60_000);

    for (const page of [reader, stalled]) {
      expect(accountingProblem(page.events)).toBeNull();
      expect(Math.max(...page.events.map((e) => e.alerts.length))).toBeLessThanOrEqual(ring);
    }
    const skipped = (page: typeof reader): number => page.events.reduce((sum, e) => sum + e.skipped, 0);
    expect(skipped(stalled)).toBeGreaterThan(0);
    expect(ui.stream().skipped).toBe(skipped(reader) + skipped(stalled));
    expect(ui.stream().largestBacklogBytes).toBeLessThanOrEqual(maxBacklog + 2 * ring * 1024 + 64 * 1024);
    // What was sent is the alert itself, output_fields as exact strings.
    const sample = reader.events.flatMap((e) => e.alerts).at(-1)!;
    expect(sample.rule).toBe('Terminal shell in container');
    const seq = Number(sample.fields.find(([k]) => k === 'seq')![1]);
    expect(sample.fields.find(([k]) => k === 'evt.time')![1]).toBe(String(1764219600000000970n + BigInt(seq)));
  });

  it('sends a page no more than a burst of ringAlerts plus alertsPerSecond, and counts the rest as skipped', async () => {
    const ring = 200;
    const rate = 500;
    const { receiver, url, target } = await consoleOnReceiver({ ringAlerts: ring, alertsPerSecond: rate });
    const page = readEvents(url);
    cleanups.push(page.close);
    await page.opened;
    await waitFor('the first event', () => page.events.length > 0);
    const started = Date.now();
    const output = createGrpcOutput({ target });
    cleanups.push(() => output.close(5000));
    for (let i = 0; i < 20_000; i++) {
      while (!output.emit(numberedAlert(i))) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect((await output.flush(60_000)).flushed).toBe(true);
    await waitFor('the page told of all 20,000', () => page.events.at(-1)?.through === 20_000, 30_000);
    const elapsedSec = (Date.now() - started) / 1000;
    const live = page.events.slice(1);
    const sent = live.reduce((n, e) => n + e.alerts.length, 0);
    // A bound, not a speed: a slower machine sends fewer, never more.
    expect(sent).toBeLessThanOrEqual(ring + rate * elapsedSec);
    expect(sent + live.reduce((n, e) => n + e.skipped, 0)).toBe(20_000);
    expect(accountingProblem(page.events)).toBeNull();
    expect(receiver.stats().accepted).toBe(20_000);
  });

  it('serves at most maxPages event streams at once; one more gets 503 until one closes', async () => {
    const { ui, url } = await consoleOnReceiver({ maxPages: 2 });
    const pages = [readEvents(url), readEvents(url)];
    cleanups.push(...pages.map((p) => p.close));
    await Promise.all(pages.map((p) => p.opened));
    await waitFor('two pages', () => ui.stream().pages === 2);
    const third = await fetch(`${url}api/events`);
    expect(third.status).toBe(503);
    expect(await third.text()).toMatch(/2 console pages are open, the most served at once/);
    pages[0]!.close();
    await waitFor('one page left', () => ui.stream().pages === 1);
    const again = readEvents(url);
    cleanups.push(again.close);
    await waitFor('the new page served', () => again.events.length > 0);
  });

  it('a page that connects later gets the history first, then only newer alerts', async () => {
    const { receiver, url, target } = await consoleOnReceiver();
    const output = createGrpcOutput({ target });
    cleanups.push(() => output.close(5000));
    for (let i = 0; i < 50; i++) output.emit(numberedAlert(i));
    expect((await output.flush(30_000)).flushed).toBe(true);
    const page = readEvents(url);
    cleanups.push(page.close);
    await waitFor('the history', () => page.events.length > 0 && page.states() > 0);
    expect(page.events[0]!.through).toBe(50);
    expect(page.events[0]!.alerts.map((a) => a.n)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    for (let i = 50; i < 60; i++) output.emit(numberedAlert(i));
    expect((await output.flush(30_000)).flushed).toBe(true);
    await waitFor('ten more', () => page.events.at(-1)?.through === 60);
    expect(page.events.slice(1).flatMap((e) => e.alerts.map((a) => a.n))).toEqual(Array.from({ length: 10 }, (_, i) => 51 + i));
    expect(receiver.stats().accepted).toBe(60);
  });
});

describe("the receiver's read-only view, through the console's state", () => {
  it('counts each producer: accepted, duplicates, missing, last sequence, connected while its stream is open; and sink refusals', async () => {
    let refuse = false;
    const sink: Sink = {
      write: () => (refuse ? Promise.reject(new Error('disk full')) : undefined),
      status: () => ({ kind: 'test sink', refusing: refuse }),
    };
    const { url, target } = await consoleOnReceiver({ sink });
    const encoder = new AlertEncoder(64 * 1024);
    const alert = (i: number) => decodeAlert(encoder.scratch.subarray(0, encoder.encode(numberedAlert(i))));
    const publish = (firstSeq: number, count: number): Buffer =>
      Buffer.from(PublishRequest.encode({ producerId: 'raw-producer', firstSeq: BigInt(firstSeq), alerts: Array.from({ length: count }, (_, i) => alert(firstSeq + i)) }).finish());

    const client = new grpc.Client(target, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    const call = client.makeBidiStreamRequest('/falco.transmit.v1.Transmitter/Publish', (b: Buffer) => b, (b: Buffer) => b);
    let acks = 0;
    call.on('data', () => acks++);
    call.on('error', () => {});
    call.write(publish(1, 3)); // 1-3
    call.write(publish(2, 3)); // 2-4: two duplicates
    call.write(publish(8, 1)); // 5-7 missing
    await waitFor('three acks', () => acks === 3);

    const state = async () => (await (await fetch(`${url}api/state`)).json()) as {
      producers: Array<{ id: string; streams: number; accepted: number; duplicates: number; gaps: number; handledThrough: number; lastSeenMs: number }>;
      sink: { sink: Record<string, unknown>; failures: number; lastFailure?: { message: string } };
      byPriority: number[];
    };
    const open = await state();
    expect(open.producers).toEqual([expect.objectContaining({ id: 'raw-producer', streams: 1, accepted: 5, duplicates: 2, gaps: 3, handledThrough: 8 })]);
    expect(open.byPriority.reduce((a, b) => a + b, 0)).toBe(5);
    expect(open.sink).toEqual({ sink: { kind: 'test sink', refusing: false }, failures: 0 });

    refuse = true;
    call.write(publish(9, 1));
    await new Promise<void>((resolve) => call.on('status', () => resolve()));
    const after = await state();
    expect(after.producers).toEqual([expect.objectContaining({ id: 'raw-producer', streams: 0, accepted: 5, handledThrough: 8 })]);
    expect(after.sink.failures).toBe(1);
    expect(after.sink.lastFailure?.message).toMatch(/disk full/);
    expect(after.sink.sink).toEqual({ kind: 'test sink', refusing: true });
  });
});

describe('counting by rule and priority (AlertCounter)', () => {
  it('counts rules exactly: names that hash alike stay apart, long names take the general reader, past maxRules the rest are pooled', async () => {
    const { AlertCounter } = await import('../dist/src/console/alert-view.js');
    const encoder = new AlertEncoder(64 * 1024);
    const bytes = (rule: string, priority: string): Buffer => Buffer.from(encoder.scratch.subarray(0, encoder.encode({ rule, priority, time: 0n, output: 'x' })));
    // Same length, same first four, last four and middle characters: only the bytes in between differ.
    const alike = ['abcd-1-m-2-wxyz', 'abcd-3-m-4-wxyz', 'abcd-5-m-6-wxyz'];
    const long = `a rule name longer than 127 bytes ${'x'.repeat(120)}`;
    const counter = new AlertCounter(5);
    const sent: Array<[string, string, number]> = [[alike[0]!, 'Critical', 3], [alike[1]!, 'Warning', 2], [alike[2]!, 'Emergency', 1], [long, 'Debug', 4], ['', 'Notice', 1], ['sixth', 'Notice', 2], ['seventh', 'Notice', 1]];
    for (const [rule, priority, times] of sent) for (let i = 0; i < times; i++) counter.add(bytes(rule, priority));
    const byCountThenName = (rows: Array<[string, number]>) => [...rows].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const top = counter.top(10);
    expect(top.map(([, n]) => n)).toEqual([4, 3, 3, 2, 1, 1]); // most first
    expect(byCountThenName(top)).toEqual(byCountThenName([[long, 4], [alike[0]!, 3], ['(other rules)', 3], [alike[1]!, 2], [alike[2]!, 1], ['', 1]]));
    expect(counter.size).toBe(5);
    expect(counter.byPriority).toEqual([1, 0, 3, 0, 2, 4, 0, 4]);
  });
});

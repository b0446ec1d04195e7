// The receiver's ingest as a sink sees it: runs carry their sequence numbers and what was
// filtered out, a pipelined sink may hold several runs at once (bounded by its window), and
// acks follow what the sink confirmed, in order, whatever order it confirms in.

import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createReceiver, type AlertRun, type Receiver } from '../dist/src/index.js';
import { PublishAck, PublishRequest } from '../dist/src/gen/falco/transmit/v1/transmit.js';
import { response } from '../dist/src/gen/falco/outputs/outputs.js';
import { tempDir } from './helpers/pki.js';
import { waitFor } from './helpers/harness.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Alert `seq` of a producer: Notice (5) when even, Warning (4) when odd. */
function alert(seq: number) {
  return response.fromPartial({ rule: 'r', output: `#${seq}`, priority: seq % 2 === 0 ? 5 : 4 });
}

function request(producerId: string, firstSeq: number, n: number): Buffer {
  const alerts = Array.from({ length: n }, (_, i) => alert(firstSeq + i));
  return Buffer.from(PublishRequest.encode({ producerId, firstSeq: BigInt(firstSeq), alerts }).finish());
}

/** A raw Publish stream that records every ack. */
function openStream(target: string) {
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  const call = client.makeBidiStreamRequest('/falco.transmit.v1.Transmitter/Publish', (b: Buffer) => b, (b: Buffer) => b);
  const acks: number[] = [];
  let status: grpc.StatusObject | null = null;
  call.on('data', (b: Buffer) => acks.push(Number(PublishAck.decode(b).ackedThrough)));
  call.on('error', () => {});
  call.on('status', (s: grpc.StatusObject) => (status = s));
  cleanups.push(() => {
    call.cancel();
    client.close();
  });
  return { call, acks, status: () => status };
}

/** A sink that confirms only when told to, with a window of `window` runs. */
class ManualSink {
  readonly runs: Array<{ run: AlertRun; seqs: number[]; confirm: () => void; fail: (e: Error) => void }> = [];
  constructor(readonly window: number) {}
  write(run: AlertRun): Promise<void> {
    return new Promise((confirm, fail) => {
      this.runs.push({ run, seqs: run.alerts.map((_, i) => run.seqOf(i)), confirm, fail });
    });
  }
}

async function receiverWith(sink: ManualSink, extra: { minPriority?: string } = {}): Promise<string> {
  const sock = `unix://${join(tempDir(), 'ingest.sock')}`;
  const receiver: Receiver = createReceiver({ listen: [sock], sink, log: () => {}, ...extra });
  cleanups.push(() => receiver.close());
  await receiver.start();
  return sock;
}

describe('ingest and a pipelined sink', () => {
  it('hands at most `window` runs at once and acks only through what was confirmed in order', async () => {
    const sink = new ManualSink(3);
    const target = await receiverWith(sink);
    const s = openStream(target);
    for (let i = 0; i < 6; i++) s.call.write(request('p', 1 + 2 * i, 2));
    await waitFor('three runs in flight', () => sink.runs.length === 3);
    // The window is full: the fourth run waits for the first to settle, whatever else arrived.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sink.runs.length).toBe(3);
    expect(sink.runs.map((r) => [r.run.firstSeq, r.run.lastSeq])).toEqual([[1, 2], [3, 4], [5, 6]]);
    // Confirmed out of order: run 2's ack waits for run 1.
    sink.runs[1]!.confirm();
    sink.runs[0]!.confirm();
    await waitFor('two acks', () => s.acks.length === 2);
    expect(s.acks).toEqual([2, 4]);
    await waitFor('the window to refill', () => sink.runs.length === 5);
    for (let i = 2; i < 6; i++) {
      await waitFor(`run ${i + 1}`, () => sink.runs.length > i);
      sink.runs[i]!.confirm();
    }
    await waitFor('every ack', () => s.acks.length === 6);
    expect(s.acks).toEqual([2, 4, 6, 8, 10, 12]);
  });

  it('gives the sink each kept alert with its sequence number and counts the filtered ones', async () => {
    const sink = new ManualSink(1);
    const target = await receiverWith(sink, { minPriority: 'warning' });
    const s = openStream(target);
    s.call.write(request('p', 1, 5)); // 1..5: odd ones are Warning, kept
    await waitFor('the run', () => sink.runs.length === 1);
    const first = sink.runs[0]!;
    expect([first.run.producerId, first.run.firstSeq, first.run.lastSeq, first.run.filtered]).toEqual(['p', 1, 5, 2]);
    expect(first.seqs).toEqual([1, 3, 5]);
    expect(first.run.priorities).toEqual([4, 4, 4]);
    expect(first.run.alerts.map((a) => response.decode(a).output)).toEqual(['#1', '#3', '#5']);
    first.confirm();
    // A resend overlapping what was handled: only the fresh part reaches the sink.
    s.call.write(request('p', 4, 4)); // 4..7, of which 6 and 7 are fresh
    await waitFor('the second run', () => sink.runs.length === 2);
    expect([sink.runs[1]!.run.firstSeq, sink.runs[1]!.run.lastSeq, sink.runs[1]!.seqs]).toEqual([6, 7, [7]]);
    sink.runs[1]!.confirm();
    await waitFor('both acks', () => s.acks.length === 2);
    expect(s.acks).toEqual([5, 7]);
  });

  it('a failed run withholds its ack and every later one, and the resend is taken', async () => {
    const sink = new ManualSink(2);
    const target = await receiverWith(sink);
    const s = openStream(target);
    s.call.write(request('p', 1, 2));
    s.call.write(request('p', 3, 2));
    await waitFor('two runs in flight', () => sink.runs.length === 2);
    sink.runs[1]!.confirm(); // durable, but behind a run that fails
    sink.runs[0]!.fail(new Error('bus down'));
    await waitFor('the stream to end', () => s.status() !== null);
    expect(s.status()!.code).toBe(grpc.status.UNAVAILABLE);
    expect(s.status()!.details).toMatch(/bus down/);
    expect(s.acks).toEqual([]);
    const again = openStream(target);
    again.call.write(request('p', 1, 4));
    await waitFor('the resend', () => sink.runs.length === 3);
    expect([sink.runs[2]!.run.firstSeq, sink.runs[2]!.run.lastSeq]).toEqual([1, 4]);
    sink.runs[2]!.confirm();
    await waitFor('its ack', () => again.acks.length === 1);
    expect(again.acks).toEqual([4]);
  });
});

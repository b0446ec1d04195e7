// Hostile and broken peers (issue 10): each attack runs beside a healthy producer, against a real
// receiver process, and the healthy producer must lose nothing while the receiver stays up.

import { afterEach, describe, expect, it } from 'vitest';
import { renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { tempDir } from './helpers/pki.js';
import { waitFor } from './helpers/harness.js';
import {
  childReceiver,
  fdLimitsOf,
  healthOf,
  healthyProducer,
  mtlsCreds,
  publishRequest,
  range,
  rawStream,
  seqsInFile,
  silentConnections,
  silentTlsConnections,
  stalledSubscribers,
  unknownField,
  unreadingPublish,
  waitForAsync,
} from './helpers/hostile.js';
import { PublishRequest } from '../dist/src/gen/falco/transmit/v1/transmit.js';
import { response } from '../dist/src/gen/falco/outputs/outputs.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
function track<T extends { close(): unknown } | { stop(): unknown }>(thing: T): T {
  cleanups.push(() => ('stop' in thing ? thing.stop() : thing.close()));
  return thing;
}

const N = 20_000;

describe('hostile peers against a receiver process', () => {
  it('sequence numbers at the edge are refused with INVALID_ARGUMENT; the receiver and a healthy producer carry on', async () => {
    const file = join(tempDir(), 'alerts.jsonl');
    const rx = track(await childReceiver(['--listen', 'localhost:0', '--output-file', file]));
    const healthy = track(healthyProducer(rx.addr, 0, N));

    const send = async (producer: string, firstSeq: bigint, alerts: number) => {
      const s = rawStream(rx.addr, mtlsCreds());
      s.call.write(publishRequest(producer, firstSeq, alerts));
      s.call.end();
      const status = await s.status;
      s.close();
      return { code: status.code, details: status.details, acks: s.acks };
    };
    // No alerts, first_seq absent (0), from a producer never seen: answered, nothing to ack.
    expect(await send('evil-empty', 0n, 0)).toEqual({ code: grpc.status.OK, details: 'OK', acks: [0n] });
    // An ack that would pass 2^64-1, and runs beyond 2^53 that doubles cannot number exactly.
    const near64 = await send('evil-2^64', 2n ** 64n - 2n, 3);
    expect(near64.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(near64.details).toMatch(/first_seq .* is above 9007199254740991 \(2\^53-1\)/);
    const past53 = await send('evil-2^53+1', 2n ** 53n + 1n, 1);
    expect(past53.code).toBe(grpc.status.INVALID_ARGUMENT);
    const crossing = await send('evil-crossing', 2n ** 53n - 1n, 2);
    expect(crossing.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(crossing.details).toMatch(/\+ 2 alerts passes 9007199254740991/);
    // The last exact run is taken, and acked exactly.
    expect(await send('edge', 2n ** 53n - 2n, 2)).toEqual({ code: grpc.status.OK, details: 'OK', acks: [2n ** 53n - 1n] });

    const { result, stats } = await healthy.done;
    expect(result.flushed).toBe(true);
    expect(stats).toMatchObject({ acked: N, dropped: 0 });
    expect(rx.alive()).toBe(true);
    expect((await rx.stats()).rejectedStreams).toBe(3);
    await rx.stop();
    expect(seqsInFile(file)).toEqual(range(0, N));
    expect(rx.stderr()).toMatch(/invalid PublishRequest from evil-2\^64: first_seq/);
  });

  it('a full disk (ENOSPC) stops the acks with the reason, health says NOT_SERVING, and writing resumes by itself', async () => {
    const dir = tempDir();
    const link = join(dir, 'alerts.jsonl');
    symlinkSync('/dev/full', link);
    const rx = track(await childReceiver(['--listen', 'localhost:0', '--output-file', link]));
    const a = track(healthyProducer(rx.addr, 0, N));
    const b = track(healthyProducer(rx.addr, 100_000, 100_000 + N));

    await waitFor('both producers to be told why', () => /ENOSPC/.test(a.output.stats().lastError ?? '') && /ENOSPC/.test(b.output.stats().lastError ?? ''));
    expect(a.output.stats().lastError).toMatch(/^UNAVAILABLE: receiver sink failed: ENOSPC/);
    expect(await healthOf(rx.addr, mtlsCreds(), 'falco.transmit.v1.Transmitter')).toBe('NOT_SERVING');
    const failing = await rx.stats();
    expect(failing.sinkFailures).toBeGreaterThan(0);
    expect(failing.sinkError).toMatch(/ENOSPC/);
    expect(failing.accepted).toBe(0);
    expect(a.output.stats().acked + b.output.stats().acked).toBe(0);
    expect(rx.alive()).toBe(true);
    expect(rx.stderr()).toMatch(/sink failed: ENOSPC.*nothing is acknowledged until a write succeeds/);

    // Room again: the path now leads to a real file, and the producers' retries get through.
    symlinkSync(join(dir, 'real.jsonl'), join(dir, 'next'));
    renameSync(join(dir, 'next'), link);
    for (const p of [a, b]) {
      const { result, stats } = await p.done;
      expect(result.flushed).toBe(true);
      expect(stats).toMatchObject({ acked: N, dropped: 0 });
    }
    expect(await healthOf(rx.addr, mtlsCreds(), 'falco.transmit.v1.Transmitter')).toBe('SERVING');
    expect((await rx.stats()).sinkError).toBeNull();
    await rx.stop();
    const seqs = seqsInFile(join(dir, 'real.jsonl'));
    expect(seqs.filter((s) => s < 100_000)).toEqual(range(0, N));
    expect(seqs.filter((s) => s >= 100_000)).toEqual(range(100_000, 100_000 + N));
    expect(rx.stderr()).toMatch(/sink writing again/);
  });

  it('a peer that never reads its acks is no longer read: what the receiver takes from it stays bounded', async () => {
    const file = join(tempDir(), 'alerts.jsonl');
    const rx = track(await childReceiver(['--listen', 'localhost:0', '--output-file', file]));
    const healthy = track(healthyProducer(rx.addr, 0, N));
    // 200,000 requests of one alert each, ~8 MB: more than the stream's 4 MiB HTTP/2 window.
    const OFFERED = 200_000;
    track(unreadingPublish(rx.addr, range(1, OFFERED + 1).map((seq) => publishRequest('unread', BigInt(seq), 1))));
    // Wait until the receiver takes nothing more from it: two stats a second apart agree.
    let last = -1;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const taken = (await rx.stats()).requests;
      if (taken === last) break;
      last = taken;
    }
    const { result, stats } = await healthy.done;
    expect(result.flushed).toBe(true);
    expect(stats).toMatchObject({ acked: N, dropped: 0 });
    // What it read of the attacker: the acks that fill the peer's 64 KiB HTTP/2 window and the
    // stream's buffer (a few thousand), then nothing; never the whole offer. (`last` also counts
    // the healthy producer's requests, at most one per alert.)
    expect(last).toBeLessThan(OFFERED / 4);
    expect(rx.alive()).toBe(true);
  });

  it('unauthenticated connections cannot exhaust descriptors: per-peer and unauthenticated caps, short timeouts, silent TLS closed', async () => {
    const dir = tempDir();
    const file = join(dir, 'alerts.jsonl');
    const sock = `unix://${join(dir, 'rx.sock')}`;
    // 256 descriptors: the 1,100 connections of the report would exhaust them.
    const rx = track(
      await childReceiver(['--listen', 'localhost:0', '--listen', sock, '--output-file', file, '--handshake-timeout', '2', '--first-frame-timeout', '1'], {
        prefix: ['prlimit', '--nofile=256:256'],
      }),
    );
    expect(fdLimitsOf(rx.child.pid!).soft).toBe(256);
    const before = healthyProducer(rx.addr, 0, N);
    track(before);
    await waitFor('the first producer to be connected', () => before.output.stats().acked > 0);

    // 30 connections that finish TLS with a good certificate and never speak HTTP/2: closed at the first-frame timeout.
    const tlsOnly = track(await silentTlsConnections(rx.addr, 30));
    await waitFor('the TLS-only connections closed', () => tlsOnly.closed() === 30);
    expect((await rx.stats()).notHttp2).toBe(30);
    // 8 addresses x 140 connections that never start TLS: at most 64 per address, and at most half
    // the cap (86) unauthenticated on the listener; the rest are refused at once.
    const silent = await Promise.all(range(2, 10).map((i) => silentConnections(rx.addr, 140, `127.0.0.${i}`)));
    for (const s of silent) track(s);
    const during = await rx.stats();
    // Never more open than the cap (80% of 256, less 32): the process keeps descriptors for its work.
    expect(during.connections).toBeLessThanOrEqual(172);
    expect(during.refusedConnections).toBeGreaterThan(0);

    // A producer on the unix socket starts in the middle of the attack, and gets through.
    const unix = track(healthyProducer(sock, 100_000, 100_000 + N));
    for (const p of [before, unix]) {
      const { result, stats } = await p.done;
      expect(result.flushed).toBe(true);
      expect(stats).toMatchObject({ acked: N, dropped: 0 });
    }
    // Every attacking connection is closed by the receiver: refused at once, or at its timeout.
    await waitFor('every silent connection closed', () => silent.every((s) => s.closed() === 140));
    // Each ended one way: refused at once for a limit, or closed at its handshake timeout.
    const after = await rx.stats();
    expect(after.refusedConnections + after.failedHandshakes).toBe(8 * 140);
    expect(after.failedHandshakes).toBeGreaterThanOrEqual(86);
    expect(rx.alive()).toBe(true);
    await rx.stop();
    const seqs = seqsInFile(file);
    expect(seqs.filter((q) => q < 100_000)).toEqual(range(0, N));
    expect(seqs.filter((q) => q >= 100_000)).toEqual(range(100_000, 100_000 + N));
    // What and where, once per kind and interval, not once per connection.
    const err = rx.stderr();
    expect(err).toMatch(/TLS handshake from 127\.0\.0\.\d+:\d+ on localhost:\d+ refused: ERR_TLS_HANDSHAKE_TIMEOUT/);
    expect(err).toMatch(/refused a connection from 127\.0\.0\.\d+:\d+ on localhost:\d+: \d+ connections from 127\.0\.0\.\d+ are open, the limit \(--max-connections-per-peer 64\)/);
    expect(err).toMatch(/closed a connection from 127\.0\.0\.1:\d+ on localhost:\d+: no HTTP\/2 preface within 1000 ms/);
    expect(err.split('\n').filter((l) => / refused| closed a connection/.test(l)).length).toBeLessThan(40);
  });

  it('runs with its open-file soft limit raised to the hard limit, and sizes its connection cap from it', async () => {
    const rx = track(await childReceiver(['--listen', 'localhost:0', '--discard'], { prefix: ['prlimit', '--nofile=300:4096'] }));
    expect(fdLimitsOf(rx.child.pid!)).toEqual({ soft: 4096, hard: 4096 }); // Node raises it at startup
    await waitFor('the connection cap', () => /accepting up to/.test(rx.stderr()));
    expect(rx.stderr()).toMatch(/accepting up to 3244 connections \(open-file limit 4096\), 64 per peer address/);
  });

  it('get keeps copies, bounded by bytes: a 15 MB request pins nothing, and big alerts push out the oldest', async () => {
    const file = join(tempDir(), 'alerts.jsonl');
    const rx = track(await childReceiver(['--listen', 'localhost:0', '--output-file', file, '--history-bytes', String(200_000)]));
    const healthy = track(healthyProducer(rx.addr, 0, N));
    // 40 requests of one small alert each, padded with 15 MB of a field nobody knows.
    const s = track(rawStream(rx.addr, mtlsCreds()));
    for (let i = 1; i <= 40; i++) {
      const alert = response.fromPartial({ rule: 'hostile', output: `padded #${i}`, priority: 4 });
      s.call.write(Buffer.concat([Buffer.from(PublishRequest.encode({ producerId: 'padded', firstSeq: BigInt(i), alerts: [alert] }).finish()), unknownField(15_000_000)]));
      await waitFor(`ack ${i}`, () => s.acks.length === i);
    }
    const { result } = await healthy.done;
    expect(result.flushed).toBe(true);
    const memory = await rx.memory();
    expect(memory.arrayBuffers).toBeLessThan(150_000_000); // 40 pinned requests would be 600 MB
    // 12 alerts of 20 KB: only what fits in 200,000 bytes stays, the newest, in order.
    for (let i = 41; i <= 52; i++) {
      const big = response.fromPartial({ rule: 'hostile', output: `big #${i} ${'y'.repeat(20_000)}`, priority: 4 });
      s.call.write(Buffer.from(PublishRequest.encode({ producerId: 'padded', firstSeq: BigInt(i), alerts: [big] }).finish()));
    }
    await waitFor('the big alerts acked', () => s.acks.at(-1) === 52n);
    const got = await getAll(rx.addr);
    const outputs = got.map((a) => a.output.split(' ').slice(0, 2).join(' '));
    expect(outputs.length).toBeGreaterThanOrEqual(8);
    expect(outputs.length).toBeLessThanOrEqual(10);
    expect(outputs).toEqual(range(53 - outputs.length, 53).map((i) => `big #${i}`));
    expect(rx.alive()).toBe(true);
  });

  it('stalled subscribers: capped, each costs no memory per alert, and a live subscriber and the producer lose nothing', async () => {
    const file = join(tempDir(), 'alerts.jsonl');
    const rx = track(await childReceiver(['--listen', 'localhost:0', '--output-file', file, '--max-subscribers', '101']));
    const live = track(liveSubscriber(rx.addr));
    await waitForAsync('the live subscriber', async () => (await rx.stats()).subscribers === 1);
    const stalled = track(stalledSubscribers(rx.addr, 1000));
    await waitFor('1000 subscription attempts answered or held', () => stalled.statuses().length === 900);
    expect(new Set(stalled.statuses())).toEqual(new Set([grpc.status.RESOURCE_EXHAUSTED]));
    // Fewer alerts than a subscriber's queue (50,000): a subscriber that reads loses none, however slowly it decodes.
    const n = 5000;
    const healthy = track(healthyProducer(rx.addr, 0, n));
    const { result, stats } = await healthy.done;
    expect(result.flushed).toBe(true);
    expect(stats).toMatchObject({ acked: n, dropped: 0 });
    await waitFor('the live subscriber to get every alert', () => live.seqs.length === n);
    expect(live.seqs).toEqual(range(0, n));
    const s = await rx.stats();
    expect(s).toMatchObject({ subscribers: 101, refusedSubscribers: 900 });
    // N alerts to 100 stalled subscribers: one shared copy, and each holds at most a write chunk and its window.
    expect((await rx.memory()).arrayBuffers).toBeLessThan(120_000_000);
    stalled.close();
    await waitForAsync('the stalled ones gone', async () => (await rx.stats()).subscribers === 1);
    expect(rx.stderr()).toMatch(/refused a subscriber from .*: 101 subscription streams are open, the limit \(--max-subscribers 101\)/);
  });

  it('the producer table is bounded: the least recently seen are forgotten, an active producer never', async () => {
    const file = join(tempDir(), 'alerts.jsonl');
    const rx = track(await childReceiver(['--listen', 'localhost:0', '--output-file', file, '--max-producers', '1000']));
    const healthy = track(healthyProducer(rx.addr, 0, N));
    const s = track(rawStream(rx.addr, mtlsCreds()));
    for (let i = 0; i < 5000; i++) s.call.write(publishRequest(`p${i}`, 1n, 1));
    await waitFor('5000 acks', () => s.acks.length === 5000);
    const { result, stats } = await healthy.done;
    expect(result.flushed).toBe(true);
    expect(stats).toMatchObject({ acked: N, dropped: 0 });
    const st = await rx.stats();
    // 1000 idle ones, and those open streams publish for (the healthy one, and 16 of the attacker's stream).
    expect(st.producers).toBeLessThanOrEqual(1000 + 17);
    expect(st.evictedProducers).toBeGreaterThanOrEqual(5000 - 1000 - 16);
    await rx.stop();
    expect(seqsInFile(file)).toEqual(range(0, N)); // the active producer kept its state: no duplicate, no gap
    expect(rx.stderr()).toMatch(/producer table full \(--max-producers 1000\): forgot p\d+/);
  });

  it('a second receiver on the unix socket of a live one is refused; a stale socket file is replaced', async () => {
    const dir = tempDir();
    const path = join(dir, 'rx.sock');
    const file = join(dir, 'alerts.jsonl');
    const first = track(await childReceiver(['--listen', `unix://${path}`, '--output-file', file]));
    const second = await childReceiver(['--listen', `unix://${path}`, '--discard']).then(
      () => null,
      (err: Error) => err.message,
    );
    expect(second).toMatch(/cannot listen on unix:\/\/.*rx\.sock: another process is listening on it/);
    const healthy = track(healthyProducer(`unix://${path}`, 0, 1000));
    expect((await healthy.done).result.flushed).toBe(true);
    first.child.kill('SIGKILL'); // leaves its socket file behind, stale
    await first.exited;
    const third = track(await childReceiver(['--listen', `unix://${path}`, '--output-file', file]));
    const again = track(healthyProducer(`unix://${path}`, 1000, 2000));
    expect((await again.done).result.flushed).toBe(true);
    await third.stop();
    expect(seqsInFile(file)).toEqual(range(0, 2000));
  });
});

/** Every alert `get` returns, decoded. */
function getAll(addr: string): Promise<Array<{ output: string }>> {
  const client = new grpc.Client(addr, mtlsCreds());
  const call = client.makeServerStreamRequest('/falco.outputs.service/get', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0));
  const got: Array<{ output: string }> = [];
  return new Promise((resolve, reject) => {
    call.on('data', (b: Buffer) => got.push(response.decode(b)));
    call.on('end', () => {
      client.close();
      resolve(got);
    });
    call.on('error', reject);
  });
}

/** A `sub` client that reads everything, keeping output_fields.seq of the numbered alerts. */
function liveSubscriber(addr: string) {
  const client = new grpc.Client(addr, mtlsCreds());
  const call = client.makeBidiStreamRequest('/falco.outputs.service/sub', (b: Buffer) => b, (b: Buffer) => b);
  const seqs: number[] = [];
  call.on('data', (b: Buffer) => {
    const alert = response.decode(b);
    if (alert.rule === 'Terminal shell in container') seqs.push(Number(alert.outputFields['seq']));
  });
  call.on('error', () => {});
  call.write(Buffer.alloc(0));
  return {
    seqs,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

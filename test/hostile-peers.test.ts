// Hostile and broken peers (issue 10): each attack runs beside a healthy producer, against a real
// receiver process, and the healthy producer must lose nothing while the receiver stays up.

import { afterEach, describe, expect, it } from 'vitest';
import { renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { tempDir } from './helpers/pki.js';
import { waitFor } from './helpers/harness.js';
import { childReceiver, healthOf, healthyProducer, mtlsCreds, publishRequest, range, rawStream, seqsInFile, unreadingPublish } from './helpers/hostile.js';

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
});

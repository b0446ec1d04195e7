// The bus link on its own, against a real nats-server with JetStream: the stream it creates, the
// checks on one that exists, the PubAck window, and what it claims durable when the bus fails.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { parseDelivery } from '../dist/src/bus/durable.js';
import { BusLink, BusSetupError } from '../dist/src/bus/link.js';
import { AlertEncoder } from '../dist/src/codec/alert.js';
import { decodeAlert } from '../dist/src/index.js';
import { matchesNumbered, numberedAlert, waitFor } from './helpers/harness.js';
import { freePort, NatsServer, readStream } from './helpers/nats.js';

const encoder = new AlertEncoder(64 * 1024);
function encoded(i: number): Buffer {
  const length = encoder.encode(numberedAlert(i));
  return Buffer.from(encoder.scratch.subarray(0, length));
}
const priorityOf = (i: number): number => (i % 2 === 0 ? 5 : 4);

/** Alerts from..to-1 of numberedAlert, as bytes and priorities. */
function run(from: number, to: number): { alerts: Buffer[]; priorities: number[] } {
  const alerts: Buffer[] = [];
  const priorities: number[] = [];
  for (let i = from; i < to; i++) {
    alerts.push(encoded(i));
    priorities.push(priorityOf(i));
  }
  return { alerts, priorities };
}

const quiet = (): void => {};
/** Consecutive sequence numbers from `first`. */
const from = (first: number) => (i: number): number => first + i;

describe('bus link', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await NatsServer.start();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('creates the stream with file storage, age and byte limits and a 120 s duplicate window', async () => {
    const link = new BusLink({ servers: [nats.url], stream: 'CREATED', subjectPrefix: 'created.alerts', log: quiet });
    await link.start();
    expect(link.state).toBe('ready');
    const info = await link.connection!.jsm.streams.info('CREATED');
    expect(info.config).toMatchObject({
      subjects: ['created.alerts.>'],
      storage: 'file',
      retention: 'limits',
      discard: 'old',
      num_replicas: 1,
      max_age: 24 * 3600 * 1e9,
      max_bytes: 1024 ** 3,
      duplicate_window: 120 * 1e9,
    });
    await link.close();
  });

  it('stores every alert once per producer:seq, in order, even when a second receiver resends an overlapping run', async () => {
    const a = new BusLink({ servers: [nats.url], stream: 'ONCE', subjectPrefix: 'once.alerts', publishWindow: 64, log: quiet });
    const b = new BusLink({ servers: [nats.url], stream: 'ONCE', subjectPrefix: 'once.alerts', log: quiet });
    await a.start();
    await b.start();
    const first = run(1, 1001);
    expect(await a.publisher!.publishRun('p1', first.alerts, first.priorities, from(1))).toEqual({ durableThrough: 1000, error: null });
    const again = run(501, 1501); // a failover: the producer resends from #501 through another receiver
    expect(await b.publisher!.publishRun('p1', again.alerts, again.priorities, from(501))).toEqual({ durableThrough: 1500, error: null });
    const messages = await readStream(nats.url, 'ONCE');
    expect(messages.map((m) => m.msgId)).toEqual(Array.from({ length: 1500 }, (_, i) => `p1:${i + 1}`));
    expect(messages.map((m) => m.subject)).toEqual(Array.from({ length: 1500 }, (_, i) => ((i + 1) % 2 === 0 ? 'once.alerts.notice' : 'once.alerts.warning')));
    // Payload exactly the producer's bytes, field for field.
    messages.forEach((m, i) => expect(Buffer.from(m.data).equals(encoded(i + 1))).toBe(true));
    expect(matchesNumbered(decodeAlert(messages[0]!.data), 1)).toBe(true);
    await a.close();
    await b.close();
  });

  it('refuses an existing stream whose config conflicts, naming each setting', async () => {
    const nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'CLASH', subjects: ['clash.alerts.>'], storage: StorageType.Memory, duplicate_window: 10e9 });
    await nc.close();
    const link = new BusLink({ servers: [nats.url], stream: 'CLASH', subjectPrefix: 'clash.alerts', replicas: 1, log: quiet });
    const err = await link.start().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(BusSetupError);
    expect((err as Error).message).toContain('stream CLASH exists with a conflicting config');
    expect((err as Error).message).toContain('storage is memory, alerts need file storage');
    expect((err as Error).message).toContain('duplicate_window is 10 s, needs at least 60 s (duplicate_window_ms)');
    expect(link.state).toBe('failed');
    // The same stream asked for by another prefix: the subjects are named.
    const other = new BusLink({ servers: [nats.url], stream: 'ONCE', subjectPrefix: 'elsewhere', log: quiet });
    await expect(other.start()).rejects.toThrow('subjects are [once.alerts.>], none takes elsewhere.> (subject_prefix)');
    await link.close();
    await other.close();
  });

  it('refuses a duplicate window shorter than twice the transmitter reconnect delay before connecting', () => {
    expect(() => new BusLink({ servers: [nats.url], duplicateWindowMs: 30_000 })).toThrow('duplicate_window_ms must be at least 60000 ms');
  });

  it('says which credentials were refused, and that JetStream is off', async () => {
    const guarded = await NatsServer.start({ config: 'authorization { user: falco, password: s3cret }' });
    try {
      const wrong = new BusLink({ servers: [guarded.url], user: 'falco', password: 'nope', log: quiet });
      await expect(wrong.start()).rejects.toThrow(`NATS ${guarded.url} refused the credentials (Authorization Violation)`);
      const right = new BusLink({ servers: [guarded.url], user: 'falco', password: 's3cret', log: quiet });
      await right.start();
      expect(right.state).toBe('ready');
      await right.close();
      await wrong.close();
    } finally {
      await guarded.stop();
    }
    const plain = await NatsServer.start({ jetstream: false });
    try {
      const link = new BusLink({ servers: [plain.url], log: quiet });
      await expect(link.start()).rejects.toThrow('JetStream is not enabled');
      await link.close();
    } finally {
      await plain.stop();
    }
  });

  it('starts down when the bus is unreachable and becomes ready by itself once it is up', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const link = new BusLink({ servers: [url], log: quiet });
    await link.start();
    expect(link.state).toBe('down');
    expect(link.stateReason).toContain(`cannot connect to NATS ${url}`);
    expect(link.publisher).toBeNull();
    const late = await NatsServer.start({ port });
    try {
      await waitFor('the link to become ready', () => link.state === 'ready');
      const r = run(1, 11);
      expect(await link.publisher!.publishRun('late', r.alerts, r.priorities, from(1))).toEqual({ durableThrough: 10, error: null });
    } finally {
      await link.close();
      await late.stop();
    }
  });

  it('bus lost mid-run: claims durable only what the stream holds, and carries on after the server returns', async () => {
    const own = await NatsServer.start();
    const link = new BusLink({ servers: [own.url], publishWindow: 256, log: quiet });
    try {
      await link.start();
      const r = run(1, 20_001);
      const outcome = link.publisher!.publishRun('lost', r.alerts, r.priorities, from(1));
      await waitFor('some alerts out', () => link.publisher!.outstanding > 0);
      await own.kill();
      const { durableThrough, error } = await outcome;
      expect(error).not.toBeNull();
      expect(durableThrough).toBeLessThan(20_000);
      await own.restart();
      await waitFor('the link to reconnect', () => link.state === 'ready');
      const held = await readStream(own.url, 'FALCO_ALERTS');
      const ids = new Set(held.map((m) => m.msgId));
      for (let seq = 1; seq <= durableThrough; seq++) expect(ids.has(`lost:${seq}`)).toBe(true);
      // The producer resends from durableThrough + 1: afterwards the stream has each alert once, in order.
      const rest = run(durableThrough + 1, 20_001);
      expect(await link.publisher!.publishRun('lost', rest.alerts, rest.priorities, from(durableThrough + 1))).toEqual({ durableThrough: 20_000, error: null });
      const after = await readStream(own.url, 'FALCO_ALERTS');
      expect(after.map((m) => m.msgId)).toEqual(Array.from({ length: 20_000 }, (_, i) => `lost:${i + 1}`));
    } finally {
      await link.close();
      await own.stop();
    }
  });
});

describe('durable consumer deliveries', () => {
  const data = new Uint8Array([1]);
  it('reads the stream sequence and redelivery from both forms of the ack subject, and names a reply that is neither', () => {
    expect(parseDelivery({ reply: '$JS.ACK.FALCO_ALERTS.siem.1.6484.6484.1796207307286132687.13516', data })).toMatchObject({ seq: 6484, redelivered: false });
    expect(parseDelivery({ reply: '$JS.ACK.hub.ACCHASH.FALCO_ALERTS.siem.2.77.90.1796207307286132687.3.tok', data })).toMatchObject({ seq: 77, redelivered: true });
    expect(() => parseDelivery({ reply: '_INBOX.abc.1', data })).toThrow('not a JetStream delivery: reply subject "_INBOX.abc.1"');
  });
});

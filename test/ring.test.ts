// The shared-memory ring, exercised on real SharedArrayBuffers: layout (wrap padding, exact
// end, int32 position overflow), every record size, UTF-8 payloads, full-ring refusal,
// release/ack/rewind, the blocking and async waits across threads, and a randomized
// producer/consumer run with the consumer in a real worker thread.

import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  HEADER_BYTES,
  RingConsumer,
  RingProducer,
  createRingBuffer,
  maxRecordFor,
  recordBytes,
} from '../dist/src/ring/ring.js';

const RING_URL = new URL('../dist/src/ring/ring.js', import.meta.url).href;
const PAD_MARKER = -1;

// ---------------------------------------------------------------------------------------------
// Helpers

function makeRing(capacity: number) {
  const buffer = createRingBuffer(capacity);
  return { buffer, producer: new RingProducer(buffer), consumer: new RingConsumer(buffer) };
}

/** xorshift32: a tiny deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** Deterministic payload of `len` bytes; different seeds give different bytes. */
function pattern(len: number, seed: number): Uint8Array {
  const next = rng(seed * 2654435761 + 12345);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = next() & 0xff;
  return out;
}

/** Independent of the module: 4-byte length word + payload rounded up to 4. */
function expectedRecordBytes(len: number): number {
  return 4 + Math.ceil(len / 4) * 4;
}

/** Copy of the payload of the next record, with its data-area offset, or null. */
function readNext(consumer: RingConsumer): { offset: number; bytes: Buffer } | null {
  const rec = consumer.read();
  if (rec === null) return null;
  return { offset: rec.offset, bytes: Buffer.from(consumer.data.subarray(rec.offset, rec.offset + rec.length)) };
}

/** The int32 word at a data-area byte offset (length word or pad marker). */
function wordAt(buffer: SharedArrayBuffer, dataOffset: number): number {
  return new Int32Array(buffer, HEADER_BYTES + dataOffset, 1)[0]!;
}

/**
 * Whether `promise` settles before the event loop's next turn (a setImmediate): "at once", in
 * microtasks, rather than after a timer or a wake-up, whatever the machine's speed.
 */
async function settlesBeforeTheEventLoopTurns(promise: Promise<unknown>): Promise<boolean> {
  const later = new Promise<'later'>((resolve) => setImmediate(() => resolve('later')));
  return (await Promise.race([promise.then(() => 'now' as const), later])) === 'now';
}

function write(producer: RingProducer, payload: Uint8Array): void {
  expect(producer.tryWrite(payload, payload.length)).toBe(true);
}

/**
 * Runs `body` in a worker with `ring` = the compiled ring module and `workerData` in scope.
 * Eval workers are CommonJS, hence the dynamic import inside an async IIFE.
 */
function startWorker(body: string, workerData: Record<string, unknown>) {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    (async () => {
      const ring = await import(workerData.ringUrl);
      ${body}
    })().catch((err) => { process.nextTick(() => { throw err; }); });
  `;
  const worker = new Worker(code, { eval: true, workerData: { ringUrl: RING_URL, ...workerData } });
  const errors: unknown[] = [];
  worker.on('error', (err) => errors.push(err));
  const exited = (once(worker, 'exit') as Promise<[number]>).then(([code]) => {
    if (errors.length) throw errors[0];
    return code;
  });
  return { worker, exited };
}

/**
 * Reference model of the layout in plain arithmetic (offsets, no mod-2^32 positions): where
 * the next record must start and whether it fits, counting the pad a wrap needs.
 */
class LayoutModel {
  used = 0;
  /** Unreleased records in order; `bytes` includes any pad in front of it. */
  queue: { payload: Uint8Array; offset: number; bytes: number }[] = [];
  readIdx = 0;

  constructor(
    readonly capacity: number,
    public nextOff = 0,
  ) {}

  /** Payload offset the record must get, or null when the ring must refuse it. */
  write(payload: Uint8Array): number | null {
    const need = expectedRecordBytes(payload.length);
    const tail = this.capacity - this.nextOff;
    const pad = need > tail ? tail : 0;
    if (this.used + pad + need > this.capacity) return null;
    const start = pad ? 0 : this.nextOff;
    this.queue.push({ payload, offset: start + 4, bytes: pad + need });
    this.used += pad + need;
    this.nextOff = (start + need) % this.capacity;
    return start + 4;
  }

  release(n: number): void {
    for (const r of this.queue.splice(0, n)) this.used -= r.bytes;
    this.readIdx = Math.max(0, this.readIdx - n);
  }
}

// ---------------------------------------------------------------------------------------------

describe('sizes', () => {
  it('recordBytes and maxRecordFor give the documented numbers', () => {
    expect([0, 1, 3, 4, 5, 8, 9].map(recordBytes)).toEqual([4, 8, 8, 8, 12, 12, 16]);
    expect(maxRecordFor(1024)).toBe(504);
    expect(maxRecordFor(65536)).toBe(32760);
    expect(() => createRingBuffer(1000)).toThrow(RangeError);
    expect(() => createRingBuffer(512)).toThrow(RangeError);
    expect(createRingBuffer(1024).byteLength).toBe(HEADER_BYTES + 1024);
  });
});

describe('layout', () => {
  it('wraps a record that does not fit before the end: pad marker, record at offset 0, never split', () => {
    const { buffer, producer, consumer } = makeRing(1024);
    const a = pattern(400, 1);
    const b = pattern(400, 2);
    write(producer, a); // [0, 404)
    write(producer, b); // [404, 808)
    expect(readNext(consumer)!.bytes.equals(a)).toBe(true);
    expect(readNext(consumer)!.bytes.equals(b)).toBe(true);
    consumer.release(2, 2);
    expect(producer.usedBytes()).toBe(0);

    // 216 bytes are left before the end; a 304-byte record must go to offset 0.
    const c = pattern(300, 3);
    write(producer, c);
    expect(wordAt(buffer, 808)).toBe(PAD_MARKER);
    expect(wordAt(buffer, 0)).toBe(300);
    expect(producer.usedBytes()).toBe(216 + 304); // the pad counts until released

    const got = readNext(consumer)!;
    expect(got.offset).toBe(4);
    expect(got.bytes.equals(c)).toBe(true);
    expect(readNext(consumer)).toBeNull();
    consumer.release(1, 3);
    expect(producer.usedBytes()).toBe(0); // release skipped the pad too
  });

  it('a record ending exactly at the end of the data area: the next starts at 0 with no pad', () => {
    const { buffer, producer, consumer } = makeRing(1024);
    write(producer, pattern(300, 1)); // [0, 304)
    write(producer, pattern(300, 2)); // [304, 608)
    readNext(consumer);
    readNext(consumer);
    consumer.release(2, 2);

    const c = pattern(412, 3); // 416 bytes: [608, 1024) exactly
    const d = pattern(8, 4);
    write(producer, c);
    expect(producer.usedBytes()).toBe(416);
    write(producer, d);
    expect(wordAt(buffer, 0)).toBe(8); // a length word, not a pad marker
    expect(producer.usedBytes()).toBe(416 + 12); // no pad bytes counted

    const gc = readNext(consumer)!;
    expect(gc.offset).toBe(612);
    expect(gc.offset + 412).toBe(1024);
    expect(gc.bytes.equals(c)).toBe(true);
    const gd = readNext(consumer)!;
    expect(gd.offset).toBe(4);
    expect(gd.bytes.equals(d)).toBe(true);
    consumer.release(2, 4);
    expect(producer.usedBytes()).toBe(0);
  });

  it('two records that fill the ring exactly', () => {
    const { producer, consumer } = makeRing(1024);
    write(producer, pattern(508, 1));
    write(producer, pattern(508, 2));
    expect(producer.usedBytes()).toBe(1024);
    expect(producer.tryWrite(new Uint8Array(0), 0)).toBe(false);
    expect(readNext(consumer)!.bytes.equals(pattern(508, 1))).toBe(true);
    expect(readNext(consumer)!.bytes.equals(pattern(508, 2))).toBe(true);
  });

  it('copies only `length` bytes of a larger scratch buffer', () => {
    const { buffer, producer, consumer } = makeRing(1024);
    new Uint8Array(buffer, HEADER_BYTES).fill(0x55);
    const scratch = new Uint8Array(64).fill(0xaa);
    scratch.set([1, 2, 3, 4, 5]);
    expect(producer.tryWrite(scratch, 5)).toBe(true);
    const got = readNext(consumer)!;
    expect([...got.bytes]).toEqual([1, 2, 3, 4, 5]);
    // The 3 padding bytes after the payload, and what follows, were not touched.
    expect([...consumer.data.subarray(9, 16)]).toEqual([0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55]);
  });

  for (const capacity of [1024, 4096]) {
    it(`every record size 0..maxRecordFor(${capacity}), written, read back and released`, () => {
      const { producer, consumer } = makeRing(capacity);
      const max = maxRecordFor(capacity);
      const model = new LayoutModel(capacity);
      let wraps = 0;
      for (let len = 0; len <= max; len++) {
        const payload = pattern(len, len + capacity);
        const want = model.write(payload);
        expect(want).not.toBeNull(); // an empty ring always takes a record up to the max
        write(producer, payload);
        const got = readNext(consumer)!;
        expect(got.offset).toBe(want);
        expect(got.offset - 4 + expectedRecordBytes(len)).toBeLessThanOrEqual(capacity); // never split
        if (got.offset === 4) wraps++;
        expect(got.bytes.equals(payload)).toBe(true);
        expect(readNext(consumer)).toBeNull();
        consumer.release(1, len);
        model.release(1);
        expect(producer.usedBytes()).toBe(0);
        expect(consumer.ackedSeq()).toBe(len);
      }
      expect(wraps).toBeGreaterThan(10);
    });
  }

  // Positions are int32 counters that wrap mod 2^32; start them just below the sign flip
  // and just below 2^32 so the arithmetic in fits/usedBytes/release crosses both.
  for (const start of [0x7ffffe40, 0xfffffc00 | 0]) {
    it(`randomized single-thread run against a layout model, positions from ${start >>> 0}`, () => {
      const capacity = 1024;
      const buffer = createRingBuffer(capacity);
      const ctl = new Int32Array(buffer, 0, 2);
      ctl[0] = start; // WRITTEN
      ctl[1] = start; // RELEASED
      const producer = new RingProducer(buffer);
      const consumer = new RingConsumer(buffer);
      const model = new LayoutModel(capacity, start & (capacity - 1));
      const rand = rng(start);
      let seq = 0;
      let written = 0;
      let refused = 0;
      for (let step = 0; step < 20_000; step++) {
        const op = rand() % 10;
        if (op < 4) {
          const len = rand() % 3 === 0 ? rand() % 16 : rand() % (maxRecordFor(capacity) + 1);
          const payload = pattern(len, step);
          const want = model.write(payload);
          expect(producer.tryWrite(payload, len)).toBe(want !== null);
          if (want === null) refused++;
          else written++;
        } else if (op < 8) {
          const got = readNext(consumer);
          const expected = model.queue[model.readIdx];
          if (!expected) {
            expect(got).toBeNull();
          } else {
            expect(got!.offset).toBe(expected.offset);
            expect(got!.bytes.equals(expected.payload)).toBe(true);
            model.readIdx++;
          }
        } else if (op < 9) {
          const n = rand() % (model.readIdx + 1);
          consumer.release(n, ++seq);
          model.release(n);
        } else {
          consumer.rewind();
          model.readIdx = 0;
        }
        expect(producer.usedBytes()).toBe(model.used);
        expect(consumer.unreadBytes() === 0).toBe(model.readIdx === model.queue.length);
      }
      // Enough traffic to go around the ring (and across the start boundary) many times.
      expect(written).toBeGreaterThan(2000);
      expect(refused).toBeGreaterThan(100);
    });
  }
});

describe('UTF-8 payloads', () => {
  it('multibyte text and lone surrogates read back decoded as written, neighbours intact', () => {
    // Buffer.from(str, 'utf8') turns a lone surrogate into U+FFFD (EF BF BD).
    expect([...Buffer.from('\uD83D', 'utf8')]).toEqual([0xef, 0xbf, 0xbd]);
    const samples = [
      'plain ascii alert',
      'é à ü ß ñ',
      '日本語のアラート',
      '🚨🔥 emoji 👩‍💻 zwj',
      'lone high \uD83D in the middle',
      '\uDE00 lone low at the start',
      'ends with a lone high \uD800',
      '',
      'astral 𝄞 and max \uDBFF\uDFFF pair',
      'x'.repeat(301) + '\uD83D',
      'три байта: €€€',
    ];
    const { producer, consumer } = makeRing(1024);
    const scratch = new Uint8Array(1024);
    let wraps = 0;
    let lastOffset = -1;
    for (let round = 0; round < 200; round++) {
      // A different starting sample each round moves the record boundaries around the ring.
      const batch: string[] = [];
      for (let i = 0; ; i++) {
        const str = samples[(round + i) % samples.length]! + ` #${round}.${i}`;
        const encoded = Buffer.from(str, 'utf8');
        scratch.fill(0xaa); // garbage beyond `length`, like the encoder's scratch buffer
        scratch.set(encoded);
        if (!producer.tryWrite(scratch, encoded.length)) break;
        batch.push(str);
      }
      expect(batch.length).toBeGreaterThan(1);
      // Read the whole batch only after all of it was written: a later record clobbering an
      // earlier one would show here.
      for (const str of batch) {
        const rec = consumer.read()!;
        expect(rec).not.toBeNull();
        const got = Buffer.from(consumer.data.subarray(rec.offset, rec.offset + rec.length));
        expect(got.equals(Buffer.from(str, 'utf8'))).toBe(true);
        expect(got.toString('utf8')).toBe(Buffer.from(str).toString());
        if (rec.offset < lastOffset) wraps++;
        lastOffset = rec.offset;
      }
      expect(consumer.read()).toBeNull();
      consumer.release(batch.length, round);
      expect(producer.usedBytes()).toBe(0);
    }
    expect(wraps).toBeGreaterThan(50);
  });
});

describe('full ring', () => {
  it('refuses when there is no room, changes nothing, and takes records again after release', () => {
    const { buffer, producer, consumer } = makeRing(1024);
    for (let i = 0; i < 16; i++) write(producer, pattern(60, i)); // 16 x 64 bytes
    expect(producer.usedBytes()).toBe(1024);

    const before = new Uint8Array(buffer).slice();
    expect(producer.tryWrite(pattern(0, 99), 0)).toBe(false);
    expect(producer.tryWrite(pattern(60, 99), 60)).toBe(false);
    expect(new Uint8Array(buffer)).toEqual(before); // header and data untouched
    expect(producer.usedBytes()).toBe(1024);

    // Reading does not free space: only release does.
    for (let i = 0; i < 16; i++) expect(readNext(consumer)!.bytes.equals(pattern(60, i))).toBe(true);
    expect(producer.tryWrite(pattern(60, 99), 60)).toBe(false);

    consumer.release(1, 1);
    expect(producer.usedBytes()).toBe(960);
    expect(producer.tryWrite(pattern(61, 99), 61)).toBe(false); // 68 bytes > 64 free
    write(producer, pattern(60, 99));
    expect(producer.usedBytes()).toBe(1024);
    const got = readNext(consumer)!;
    expect(got.offset).toBe(4);
    expect(got.bytes.equals(pattern(60, 99))).toBe(true);
  });

  it('counts the wrap pad: refuses a record that fits in the free bytes but not after padding', () => {
    const { buffer, producer, consumer } = makeRing(1024);
    write(producer, pattern(396, 1)); // [0, 400)
    write(producer, pattern(396, 2)); // [400, 800)
    readNext(consumer);
    consumer.release(1, 1); // free: [0, 400) and [800, 1024) = 624 bytes

    // 404 bytes < 624 free, but it cannot go at 800 (224 left) and [0, 404) overlaps record 2.
    const before = new Uint8Array(buffer).slice();
    expect(producer.tryWrite(pattern(400, 3), 400)).toBe(false);
    expect(new Uint8Array(buffer)).toEqual(before); // no pad marker left behind either
    expect(producer.usedBytes()).toBe(400);

    // 400 bytes: 224 of pad + [0, 400) exactly reaches record 2.
    write(producer, pattern(396, 4));
    expect(producer.usedBytes()).toBe(1024);
    expect(wordAt(buffer, 800)).toBe(PAD_MARKER);
    expect(producer.tryWrite(new Uint8Array(0), 0)).toBe(false);

    expect(readNext(consumer)!.bytes.equals(pattern(396, 2))).toBe(true);
    const got = readNext(consumer)!;
    expect(got.offset).toBe(4);
    expect(got.bytes.equals(pattern(396, 4))).toBe(true);
    consumer.release(1, 2);
    expect(producer.usedBytes()).toBe(224 + 400);
    write(producer, new Uint8Array(0));
  });
});

describe('release, ack and rewind', () => {
  function fiveRecords() {
    const ring = makeRing(1024);
    const payloads = [0, 1, 2, 3, 4].map((i) => pattern(50 + i * 10, 100 + i));
    for (const p of payloads) write(ring.producer, p);
    return { ...ring, payloads };
  }
  const sizes = (ps: Uint8Array[]) => ps.reduce((n, p) => n + expectedRecordBytes(p.length), 0);

  it('release frees exactly the given records and publishes ackedSeq', () => {
    const { producer, consumer, payloads } = fiveRecords();
    expect(producer.ackedSeq()).toBe(0);
    for (let i = 0; i < 3; i++) readNext(consumer);
    consumer.release(2, 41);
    expect(producer.ackedSeq()).toBe(41);
    expect(consumer.ackedSeq()).toBe(41);
    expect(producer.usedBytes()).toBe(sizes(payloads.slice(2)));
    consumer.release(0, 42); // an ack without records moves the seq only
    expect(producer.ackedSeq()).toBe(42);
    expect(producer.usedBytes()).toBe(sizes(payloads.slice(2)));
    consumer.release(3, 2 ** 40); // sequence numbers beyond 32 bits survive
    expect(producer.ackedSeq()).toBe(2 ** 40);
    expect(producer.usedBytes()).toBe(0);
  });

  it('rewind re-reads from the release point and yields the same bytes', () => {
    const { consumer, payloads } = fiveRecords();
    const first = [0, 1, 2].map(() => readNext(consumer)!);
    consumer.release(2, 2);
    consumer.rewind();
    // Record 3 was read but not acknowledged: it comes again, then the rest.
    const again = [readNext(consumer)!, readNext(consumer)!, readNext(consumer)!];
    expect(again[0]!.offset).toBe(first[2]!.offset);
    expect(again.map((r) => r.bytes)).toEqual(payloads.slice(2).map((p) => Buffer.from(p)));
    expect(readNext(consumer)).toBeNull();

    consumer.rewind();
    consumer.rewind(); // idempotent
    expect(readNext(consumer)!.bytes.equals(payloads[2]!)).toBe(true);
  });

  it('a new consumer (a replacement worker) starts at the last release', () => {
    const { buffer, consumer, payloads } = fiveRecords();
    for (let i = 0; i < 5; i++) readNext(consumer);
    consumer.release(2, 2);
    const replacement = new RingConsumer(buffer);
    const got = [readNext(replacement), readNext(replacement), readNext(replacement), readNext(replacement)];
    expect(got.slice(0, 3).map((r) => r!.bytes)).toEqual(payloads.slice(2).map((p) => Buffer.from(p)));
    expect(got[3]).toBeNull();
  });

  it('given-up records are published with their release, as one pair with ackedSeq', () => {
    const { producer, consumer } = fiveRecords();
    for (let i = 0; i < 3; i++) readNext(consumer);
    consumer.addGivenUp(1);
    expect(producer.settled()).toEqual({ ackedSeq: 0, givenUp: 0 }); // not before the release
    consumer.release(3, 3);
    expect(producer.settled()).toEqual({ ackedSeq: 3, givenUp: 1 });
    consumer.release(1, 4);
    expect(producer.settled()).toEqual({ ackedSeq: 4, givenUp: 1 });
  });

  it('a read that overlaps a publish keeps the last whole pair; a replacement worker ends a publish its predecessor died in', () => {
    const { buffer, producer, consumer } = fiveRecords();
    consumer.addGivenUp(2);
    consumer.release(2, 2);
    expect(producer.settled()).toEqual({ ackedSeq: 2, givenUp: 2 });
    const version = new Int32Array(buffer, 0, 8);
    Atomics.add(version, 5, 1); // a worker dies between the two halves of a publish...
    Atomics.store(new BigInt64Array(buffer, 0, 16), 8, 5n); // ...after writing a new ackedSeq
    expect(producer.settled()).toEqual({ ackedSeq: 2, givenUp: 2 });
    const replacement = new RingConsumer(buffer);
    expect(producer.settled()).toEqual({ ackedSeq: 5, givenUp: 2 });
    replacement.addGivenUp(1);
    replacement.release(3, 5);
    expect(producer.settled()).toEqual({ ackedSeq: 5, givenUp: 3 });
  });

  it('settled() never shows half a publish while a worker publishes as fast as it can', async () => {
    const { buffer, producer } = makeRing(1024);
    const publishes = 300_000;
    // Every second sequence number is given up: a whole pair always has givenUp = floor(ackedSeq / 2).
    const { exited } = startWorker(
      `const c = new ring.RingConsumer(workerData.buffer);
       for (let seq = 1; seq <= workerData.publishes; seq++) {
         if (seq % 2 === 0) c.addGivenUp(1);
         c.release(0, seq);
       }`,
      { buffer, publishes },
    );
    let reads = 0;
    let last = { ackedSeq: 0, givenUp: 0 };
    while (last.ackedSeq < publishes) {
      const now = producer.settled();
      reads++;
      if (now.givenUp !== Math.floor(now.ackedSeq / 2)) throw new Error(`half a publish: ${JSON.stringify(now)} at read ${reads}`);
      if (now.ackedSeq < last.ackedSeq) throw new Error(`went back from ${JSON.stringify(last)} to ${JSON.stringify(now)}`);
      last = now;
      if (reads % 1024 === 0) await new Promise((resolve) => setImmediate(resolve)); // lets the worker's exit through
    }
    expect(last).toEqual({ ackedSeq: publishes, givenUp: publishes / 2 });
    expect(await exited).toBe(0);
  });

  describe('a worker stopped between any two of its stores (worker.terminate() can do that)', () => {
    const payloadFor = (seq: number) => pattern(40 + seq * 8, seq);
    const died = new Error('the thread stopped here');

    /** One worker's turn: it reads every record, then runs `step`, stopped at its `dieAt`-th header write. */
    interface Turn {
      dieAt: number;
      step: (consumer: RingConsumer) => void;
    }

    /** Five records written; each turn a new consumer (a replacement worker); then one more reads what is left. */
    function stopAt(turns: Turn[]) {
      const { buffer, producer } = makeRing(1024);
      for (let seq = 1; seq <= 5; seq++) write(producer, payloadFor(seq));
      let writes = 0;
      for (const { dieAt, step } of turns) {
        const consumer = new RingConsumer(buffer);
        while (consumer.read() !== null);
        writes = 0;
        const { store, add } = Atomics;
        const stopping =
          <F extends (...args: never[]) => unknown>(fn: F) =>
          (...args: Parameters<F>) => {
            if ((args[0] as unknown as { buffer: unknown }).buffer === buffer && ++writes >= dieAt) throw died;
            return fn(...args);
          };
        Object.assign(Atomics, { store: stopping(store), add: stopping(add) });
        try {
          step(consumer);
        } catch (err) {
          if (err !== died) throw err;
        } finally {
          Object.assign(Atomics, { store, add });
        }
      }
      const last = new RingConsumer(buffer);
      const rest: { seq: number; bytes: Buffer }[] = [];
      for (let rec = last.read(); rec; rec = last.read()) {
        rest.push({ seq: rec.seq, bytes: Buffer.from(rec.data.subarray(rec.offset, rec.offset + rec.length)) });
      }
      return { writes, producer, rest };
    }

    /** The replacement resends records numbered as before: from ackedSeq + 1, each with its own bytes. */
    function expectNumberedAsBefore(producer: RingProducer, rest: { seq: number; bytes: Buffer }[], where: string): void {
      const from = producer.settled().ackedSeq + 1;
      expect(rest.map((r) => r.seq), where).toEqual([1, 2, 3, 4, 5].filter((seq) => seq >= from));
      for (const r of rest) expect(r.bytes.equals(payloadFor(r.seq)), `record #${r.seq} ${where}`).toBe(true);
    }

    /** Gives up one record and releases through `through` (relative to where this worker started). */
    const releaseTo = (through: (acked: number) => number) => (c: RingConsumer) => {
      const acked = c.ackedSeq();
      c.addGivenUp(1);
      c.release(through(acked) - acked, through(acked));
    };

    it('release(): the replacement numbers every record it resends as it was numbered before', () => {
      const release = releaseTo(() => 3);
      const whole = stopAt([{ dieAt: Infinity, step: release }]);
      expect(whole.producer.settled()).toEqual({ ackedSeq: 3, givenUp: 1 });
      expect(whole.writes).toBeGreaterThan(3);
      for (let dieAt = 1; dieAt <= whole.writes; dieAt++) {
        const { producer, rest } = stopAt([{ dieAt, step: release }]);
        const settled = producer.settled();
        expect(settled, `stopped at write ${dieAt}`).toEqual(settled.ackedSeq === 3 ? { ackedSeq: 3, givenUp: 1 } : { ackedSeq: 0, givenUp: 0 });
        expectNumberedAsBefore(producer, rest, `after a stop at write ${dieAt}`);
      }
    });

    it('release(): a replacement stopped too, at any write, after finishing its predecessor', () => {
      const first = releaseTo(() => 3);
      const second = releaseTo((acked) => acked + 1);
      const writes = stopAt([{ dieAt: Infinity, step: first }]).writes;
      for (let a = 1; a <= writes + 1; a++) {
        for (let b = 1; b <= writes + 1; b++) {
          const { producer, rest } = stopAt([
            { dieAt: a, step: first },
            { dieAt: b, step: second },
          ]);
          const where = `stopped at write ${a}, then at write ${b}`;
          const settled = producer.settled();
          // Every whole state: nothing, the first release, the second alone, or both; a give-up with each.
          expect([{ ackedSeq: 0, givenUp: 0 }, { ackedSeq: 3, givenUp: 1 }, { ackedSeq: 1, givenUp: 1 }, { ackedSeq: 4, givenUp: 2 }], where).toContainEqual(settled);
          expectNumberedAsBefore(producer, rest, where);
        }
      }
    });

    it("free() with a spool's progress: the freed count, its full count and the freed space move together", () => {
      const free = (c: RingConsumer) => {
        c.addJournaledCount('spoolFull', 2);
        c.free(2, { ringFreed: 2, tailSeq: 12 });
      };
      const whole = stopAt([{ dieAt: Infinity, step: free }]);
      const usedAfter = (records: number) => [1, 2, 3, 4, 5].slice(records).reduce((n, seq) => n + expectedRecordBytes(payloadFor(seq).length), 0);
      expect(whole.producer.usedBytes()).toBe(usedAfter(2));
      for (let dieAt = 1; dieAt <= whole.writes; dieAt++) {
        const { producer, rest } = stopAt([{ dieAt, step: free }]);
        const where = `stopped at write ${dieAt}`;
        const freed = producer.spoolCounter('ringFreed');
        expect([0, 2], where).toContain(freed);
        expect(producer.spoolCounter('tailSeq'), where).toBe(freed === 2 ? 12 : 0);
        expect(producer.spoolCounter('spoolFull'), where).toBe(freed);
        expect(producer.usedBytes(), where).toBe(usedAfter(freed));
        expect(rest.map((r) => r.bytes.equals(payloadFor(r.seq + freed))), where).toEqual(rest.map(() => true));
        expect(rest).toHaveLength(5 - freed);
      }
    });
  });

  it('releasing records not read yet moves the read position past them', () => {
    const { consumer, payloads } = fiveRecords();
    readNext(consumer);
    consumer.release(3, 3);
    expect(readNext(consumer)!.bytes.equals(payloads[3]!)).toBe(true);
    consumer.rewind();
    expect(readNext(consumer)!.bytes.equals(payloads[3]!)).toBe(true);
  });
});

describe('waitForRoom (producer, blocking)', () => {
  function fullRing() {
    const ring = makeRing(1024);
    for (let i = 0; i < 16; i++) write(ring.producer, pattern(60, i));
    return ring;
  }

  it('returns false after its timeout when the ring stays full', () => {
    const { producer } = fullRing();
    const t0 = performance.now();
    expect(producer.waitForRoom(60, 150)).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
    expect(producer.waitForRoom(60, 0)).toBe(false);
  });

  it('returns true without sitting out its timeout when there is room', () => {
    const { producer } = makeRing(1024);
    const t0 = performance.now();
    expect(producer.waitForRoom(maxRecordFor(1024), 30_000)).toBe(true);
    // Nothing will ever release space here: a wait would last the whole timeout.
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(producer.waitForRoom(maxRecordFor(1024), 0)).toBe(true); // room is checked before the clock
  });

  it('wakes when another thread releases space', async () => {
    const { buffer, producer } = fullRing();
    // waitForRoom blocks this thread in Atomics.wait, so the release must come from a worker.
    const { exited } = startWorker(
      `setTimeout(() => new ring.RingConsumer(workerData.buffer).release(2, 7), 50);`,
      { buffer },
    );
    const t0 = performance.now();
    const ok = producer.waitForRoom(124, 60_000); // needs both released records
    const waited = performance.now() - t0;
    expect(ok).toBe(true);
    expect(waited).toBeGreaterThanOrEqual(40); // it really waited for the worker...
    expect(waited).toBeLessThan(60_000); // ...and was woken, not timed out
    expect(producer.ackedSeq()).toBe(7);
    expect(producer.usedBytes()).toBe(1024 - 128);
    write(producer, pattern(124, 1));
    expect(await exited).toBe(0);
  });
});

describe('waitForData (consumer, async)', () => {
  it('resolves on timeout when nothing is written', async () => {
    const { consumer } = makeRing(1024);
    const t0 = performance.now();
    await consumer.waitForData(120);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
    expect(consumer.hasUnread()).toBe(false);
  });

  it('resolves at once when unread data is already there', async () => {
    const { producer, consumer } = makeRing(1024);
    write(producer, pattern(10, 1));
    expect(await settlesBeforeTheEventLoopTurns(consumer.waitForData(60_000))).toBe(true);
  });

  it('resolves when another thread writes', async () => {
    const { buffer, consumer } = makeRing(1024);
    const { exited } = startWorker(
      `setTimeout(() => new ring.RingProducer(workerData.buffer).tryWrite(new Uint8Array([7, 8, 9]), 3), 50);`,
      { buffer },
    );
    const t0 = performance.now();
    await consumer.waitForData(60_000);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(40); // it waited for the worker...
    expect(waited).toBeLessThan(60_000); // ...and was woken, not timed out
    expect([...readNext(consumer)!.bytes]).toEqual([7, 8, 9]);
    expect(await exited).toBe(0);
    // The sleeping flag is cleared, so later writes do not keep notifying.
    expect(new Int32Array(buffer, 0, 4)[2]).toBe(0);
  });

  it('keeps a thread alive while it waits (Atomics.waitAsync alone does not)', async () => {
    const { buffer } = makeRing(1024);
    // Nothing else is pending in this worker: before the fix it exited silently mid-wait.
    const { worker, exited } = startWorker(
      `const t0 = performance.now();
       await new ring.RingConsumer(workerData.buffer).waitForData(100);
       parentPort.postMessage(performance.now() - t0);`,
      { buffer },
    );
    const messages: number[] = [];
    worker.on('message', (m: number) => messages.push(m));
    expect(await exited).toBe(0);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toBeGreaterThanOrEqual(90);
  });

  it('resolves at once when closing was requested', async () => {
    const { producer, consumer } = makeRing(1024);
    producer.requestClose();
    expect(consumer.closing()).toBe(true);
    expect(await settlesBeforeTheEventLoopTurns(consumer.waitForData(60_000))).toBe(true);
  });

  it('wakes when another thread requests close while it waits', async () => {
    const { buffer, consumer } = makeRing(1024);
    const { exited } = startWorker(`setTimeout(() => new ring.RingProducer(workerData.buffer).requestClose(), 50);`, {
      buffer,
    });
    const t0 = performance.now();
    await consumer.waitForData(60_000);
    expect(performance.now() - t0).toBeLessThan(60_000); // woken, not timed out
    expect(consumer.closing()).toBe(true);
    expect(await exited).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Randomized producer (main thread) / consumer (worker thread)

/**
 * Record i's length and bytes, as plain JS source so that the producer here and the consumer
 * in the worker run the very same code. First 4 bytes = i, so a misplaced record names itself.
 */
const RECORD_GEN_JS = `
  function recordLength(i) {
    let h = Math.imul(i ^ 0x5bd1e995, 0x9e3779b1);
    h ^= h >>> 15; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13;
    // A third of the records are tiny (0..15 bytes), the rest 0..2000.
    return (h >>> 0) % 3 === 0 ? (h >>> 8) % 16 : (h >>> 4) % 2001;
  }
  function fillRecord(i, out) {
    const len = recordLength(i);
    let s = (Math.imul(i + 1, 0x9e3779b1) ^ 0x2545f491) | 0 || 1;
    for (let k = 0; k < len; k++) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; out[k] = s & 0xff; }
    for (let k = 0; k < 4 && k < len; k++) out[k] = (i >>> (8 * k)) & 0xff;
    return len;
  }
`;
const gen = new Function(`${RECORD_GEN_JS}; return { recordLength, fillRecord };`)() as {
  recordLength(i: number): number;
  fillRecord(i: number, out: Uint8Array): number;
};

/** The consumer: checks every byte of every record, releases in random groups, rewinds now and then. */
const CONSUMER_JS = `
  ${RECORD_GEN_JS}
  const { buffer, n, seed } = workerData;
  const consumer = new ring.RingConsumer(buffer);
  let s = seed | 0 || 1;
  const rand = () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return s >>> 0; };
  const expected = Buffer.alloc(2001);
  const data = Buffer.from(buffer, consumer.data.byteOffset, consumer.data.length);
  let next = 0;        // index of the record read() must return next
  let released = 0;    // index of the oldest unreleased record
  let highest = -1;    // highest index read so far (rereads after rewind are not new)
  let rewinds = 0, rereads = 0, waits = 0;
  let group = 1 + (rand() % 64);
  let mismatch = null;
  while (released < n) {
    const rec = consumer.read();
    if (rec === null) {
      // Nothing unread: acknowledge what we hold, or the producer could wait on us forever.
      if (next > released) { consumer.release(next - released, next - 1); released = next; continue; }
      waits++;
      await consumer.waitForData(100);
      continue;
    }
    const len = fillRecord(next, expected);
    const got = data.subarray(rec.offset, rec.offset + rec.length);
    if (rec.length !== len || !got.equals(expected.subarray(0, len))) {
      let at = 0;
      while (at < len && got[at] === expected[at]) at++;
      mismatch = { index: next, offset: rec.offset, length: rec.length, expectedLength: len, firstBadByte: at };
      break;
    }
    if (next <= highest) rereads++; else highest = next;
    next++;
    if (rand() % 1000 === 0) { consumer.rewind(); next = released; rewinds++; continue; } // as after a reconnect
    if (next - released >= group) {
      consumer.release(next - released, next - 1);
      released = next;
      group = 1 + (rand() % 64);
    }
  }
  parentPort.postMessage({ seen: highest + 1, released, rewinds, rereads, waits, mismatch });
`;

describe('randomized producer/consumer across threads', () => {
  it('200,000 random-size records through a 64 KiB ring arrive intact and in order', async () => {
    const N = 200_000;
    const seed = 0x1badb002;
    const { buffer, producer } = makeRing(65536);
    const { worker, exited } = startWorker(CONSUMER_JS, { buffer, n: N, seed: seed ^ 0x5555 });
    // The worker stops at the first mismatch (or dies): the producer must not wait on it forever.
    let stopped: unknown = null;
    exited.then(
      () => (stopped ??= new Error('consumer worker exited before reporting')),
      (err) => (stopped = err),
    );
    const result = new Promise<Record<string, any>>((resolve) => worker.once('message', resolve));
    void result.then((r) => (stopped = new Error(`consumer stopped early: ${JSON.stringify(r)}`)));

    const rand = rng(seed);
    const scratch = new Uint8Array(2001); // larger than most records, like the encoder's scratch
    const yieldToLoop = () => new Promise((r) => setImmediate(r));
    let fullCount = 0;
    let bytes = 0;
    for (let i = 0; i < N; i++) {
      const len = gen.fillRecord(i, scratch);
      bytes += len;
      while (!producer.tryWrite(scratch, len)) {
        fullCount++;
        if (stopped) throw stopped;
        // Mix both ways a producer waits for room: yielding, and blocking in waitForRoom.
        if (rand() & 1) producer.waitForRoom(len, 1000);
        else await yieldToLoop();
      }
      if (rand() % 512 === 0) await yieldToLoop(); // interleave at random points
    }

    const r = await result;
    expect(r.mismatch).toBeNull();
    expect(r.seen).toBe(N);
    expect(r.released).toBe(N);
    expect(r.rewinds).toBeGreaterThan(50); // rewinds actually happened and re-read records
    expect(r.rereads).toBeGreaterThan(r.rewinds);
    expect(await exited).toBe(0);
    expect(producer.ackedSeq()).toBe(N - 1);
    expect(producer.usedBytes()).toBe(0);
    // The ring was small enough to wrap thousands of times and to fill up.
    expect(bytes / 65536).toBeGreaterThan(1000);
    expect(fullCount).toBeGreaterThan(100);
  }, 60_000);
});

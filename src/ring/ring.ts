// The shared-memory ring between the host's main thread (the only producer) and the
// transmitter worker (the only consumer). Everything about its layout lives in this file.
//
// One SharedArrayBuffer: a 512-byte header of counters, then a power-of-two data area.
// Positions are byte counters that only grow (mod 2^32); `pos & mask` is the offset.
//
//   released ──────── read (worker-local) ──────── written
//      │  sent, waiting for ack   │  not yet sent       │
//
// A record is [u32 length][payload][pad to 4 bytes]. A record never wraps: when it does not
// fit before the end of the data area, the producer writes PAD_MARKER as the length and
// starts the record at offset 0. Space is released only when the receiver acknowledges, so
// the ring (owned by the main thread) outlives a crashed worker and a new one resends from
// the last acknowledged record. With a spool (src/spool/), the worker frees space once a record is
// on disk instead, and the header also carries the spool's counters for the host to read.

import type { RecordSource } from './record-source.js';

export const HEADER_BYTES = 512;
/** Length word that means "skip to the start of the data area". */
const PAD_MARKER = -1;

/** Int32 slots of the header. */
const WRITTEN = 0; // producer: end of the last complete record
const RELEASED = 1; // consumer: end of the last acknowledged record
const CONSUMER_SLEEPING = 2; // consumer waits on WRITTEN; producer notifies only then
const CLOSING = 3; // producer asks the worker to finish
const CONNECTION = 4; // consumer: ConnectionState code
const PUBLISH_VERSION = 5; // consumer: odd while it publishes ACKED_SEQ and GIVEN_UP together (release())
const JOURNAL_PENDING = 7; // consumer: 1 while a commit's values are in JOURNAL and maybe not all applied
/** BigInt64 slots of the header (index into a BigInt64Array over the header). */
const ACKED_SEQ = 8;
const SENT = 9;
const RESENT = 10;
const RECONNECTS = 11;
const GIVEN_UP = 12; // alerts the worker dropped because the receiver refused them
const HIGHEST_SENT = 13; // highest sequence number ever sent, so a replacement worker knows it
/** Int32 slot: the spool's state, an index of SPOOL_STATES. */
const SPOOL_STATE = 6;
/** 'none' (no spool, or not opened yet), 'open', or 'failed' (it could not be opened: the ring alone carries on). */
export const SPOOL_STATES = ['none', 'open', 'failed'] as const;
export type SpoolState = (typeof SPOOL_STATES)[number];
/**
 * BigInt64 slots the spool's worker writes (src/spool/spool-source.ts). With a spool, ACKED_SEQ is
 * the sequence number through which every record is acknowledged or given up, and sequence numbers
 * continue across processes, so the host counts from these instead.
 */
const SPOOL_SLOTS = {
  delivered: 14, // records the destination acknowledged (given-up ones are in GIVEN_UP)
  replayed: 15, // records found unacknowledged in the spool when this process opened it
  replayBase: 16, // ACKED_SEQ when this process opened the spool
  spoolFull: 17, // records given up because the spool was full (whenFull)
  corrupt: 18, // records lost to damage: bad checksum, truncated or unreadable segment
  alerts: 19, // records in the spool, not yet acknowledged
  bytes: 20, // bytes of the spool's segment files
  oldestMs: 21, // when the oldest unacknowledged record was spooled (ms since the epoch), 0 if none
  diskErrors: 22, // failed reads and writes of spool files
  ringFreed: 23, // ring records moved into the spool or given up by it
  tailSeq: 24, // sequence number of the last spooled record, published before ringFreed
  lossCountedThrough: 25, // highest sequence number of a loss counted: a replacement worker does not count it again
} as const;
export type SpoolCounter = keyof typeof SPOOL_SLOTS;
/**
 * BigInt64 slots: the values one commit() sets, in full. A worker can be terminated between any
 * two stores; a replacement that read a new ACKED_SEQ with the old RELEASED numbered acked records
 * again and the receiver took them for new alerts (60,000 sent, 64,096 delivered). So a commit is
 * written here first, then applied; a replacement applies a pending one again before it reads.
 */
const JOURNAL = { released: 32, ackedSeq: 33, givenUp: 34, ringFreed: 35, tailSeq: 36, delivered: 37, spoolFull: 38 } as const;
/** Spool counters a commit publishes (counted at once, they were counted again by a replacement that redid the work). */
type JournaledCounter = 'delivered' | 'spoolFull';

export const CONNECTION_STATES = ['idle', 'connecting', 'ready', 'backoff', 'closed'] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];

/** Smallest power of two >= bytes, at least 64 KiB. */
export function ringCapacityFor(bytes: number): number {
  let cap = 65536;
  while (cap < bytes) cap *= 2;
  if (cap > 2 ** 30) throw new RangeError(`bufferBytes ${bytes} is above the 1 GiB ring limit`);
  return cap;
}

/** Creates the shared memory for a ring of `capacity` data bytes (a power of two). */
export function createRingBuffer(capacity: number): SharedArrayBuffer {
  if (capacity & (capacity - 1) || capacity < 1024) throw new RangeError('ring capacity must be a power of two >= 1024');
  const buffer = new SharedArrayBuffer(HEADER_BYTES + capacity);
  // Touch every page now: a first write to a fresh page faults (~1 µs), which would land on emit().
  new Uint8Array(buffer).fill(0);
  return buffer;
}

/** Bytes a record of `length` payload bytes takes in the ring, header and padding included. */
export function recordBytes(length: number): number {
  return 4 + ((length + 3) & ~3);
}

/** The largest payload that can ever fit: half the ring, so a wrap never makes it impossible. */
export function maxRecordFor(capacity: number): number {
  return capacity / 2 - 8;
}

abstract class RingView {
  protected readonly ctl: Int32Array;
  protected readonly big: BigInt64Array;
  readonly data: Uint8Array;
  protected readonly words: Int32Array;
  readonly capacity: number;
  protected readonly mask: number;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.ctl = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.big = new BigInt64Array(buffer, 0, HEADER_BYTES / 8);
    this.capacity = buffer.byteLength - HEADER_BYTES;
    this.mask = this.capacity - 1;
    this.data = new Uint8Array(buffer, HEADER_BYTES, this.capacity);
    this.words = new Int32Array(buffer, HEADER_BYTES, this.capacity / 4);
  }

  /** Bytes written and not yet released. */
  usedBytes(): number {
    return (Atomics.load(this.ctl, WRITTEN) - Atomics.load(this.ctl, RELEASED)) >>> 0;
  }

  ackedSeq(): number {
    return Number(Atomics.load(this.big, ACKED_SEQ));
  }

  closing(): boolean {
    return Atomics.load(this.ctl, CLOSING) === 1;
  }

  connectionState(): ConnectionState {
    return CONNECTION_STATES[Atomics.load(this.ctl, CONNECTION)] ?? 'idle';
  }

  /** Whether a spool's worker opened it (its counters are meaningful from then on). */
  spoolState(): SpoolState {
    return SPOOL_STATES[Atomics.load(this.ctl, SPOOL_STATE)] ?? 'none';
  }

  spoolCounter(name: SpoolCounter): number {
    return Number(Atomics.load(this.big, SPOOL_SLOTS[name]));
  }

  counters(): { sent: number; resent: number; reconnects: number } {
    return {
      sent: Number(Atomics.load(this.big, SENT)),
      resent: Number(Atomics.load(this.big, RESENT)),
      reconnects: Number(Atomics.load(this.big, RECONNECTS)),
    };
  }
}

/** How far the worker got: records up to ackedSeq are settled, givenUp of them were given up. */
export interface Settled {
  ackedSeq: number;
  givenUp: number;
}

/** The main thread's side: append records, never block unless asked to. */
export class RingProducer extends RingView {
  // The producer is the only writer of WRITTEN, so it keeps its own copy.
  private written: number;
  /** The data area as a Buffer, for writers that encode in place (see reserve()). */
  readonly bytes: Buffer;
  private lastSettled: Settled;

  constructor(buffer: SharedArrayBuffer) {
    super(buffer);
    this.written = Atomics.load(this.ctl, WRITTEN);
    this.bytes = Buffer.from(buffer, HEADER_BYTES, this.capacity);
    this.lastSettled = { ackedSeq: this.ackedSeq(), givenUp: Number(Atomics.load(this.big, GIVEN_UP)) };
  }

  /**
   * ackedSeq and givenUp as one pair. Read one at a time, a worker publishing in between gave
   * half a pair (stats() showed acked -10 with all 10 given up); a read that overlaps a publish
   * keeps the last whole pair instead, so it never waits for the worker.
   */
  settled(): Settled {
    const version = Atomics.load(this.ctl, PUBLISH_VERSION);
    if ((version & 1) === 0) {
      const ackedSeq = this.ackedSeq();
      const givenUp = Number(Atomics.load(this.big, GIVEN_UP));
      if (Atomics.load(this.ctl, PUBLISH_VERSION) === version) this.lastSettled = { ackedSeq, givenUp };
    }
    return this.lastSettled;
  }

  /** Copies src[0, length) in as one record; false when the ring has no room for it now. */
  tryWrite(src: Uint8Array, length: number): boolean {
    if (!this.fits(length, Atomics.load(this.ctl, RELEASED))) return false;
    const need = recordBytes(length);
    let pos = this.written;
    let off = pos & this.mask;
    const tail = this.capacity - off;
    if (need > tail) {
      this.words[off >> 2] = PAD_MARKER;
      pos = (pos + tail) | 0;
      off = 0;
    }
    this.data.set(length === src.length ? src : src.subarray(0, length), off + 4);
    this.written = pos;
    this.commit(length);
    return true;
  }

  /**
   * Where a record of up to `window` payload bytes can be written in place, as an offset into
   * `data`, or -1 when that much does not fit now. Write the payload there, then commit().
   */
  reserve(window: number): number {
    const used = (this.written - Atomics.load(this.ctl, RELEASED)) >>> 0;
    const off = this.written & this.mask;
    const tail = this.capacity - off;
    const need = recordBytes(window);
    if (need <= tail) return used + need <= this.capacity ? off + 4 : -1;
    // It would wrap: pad to the end now (unpublished until commit) and start at offset 0.
    if (used + tail + need > this.capacity) return -1;
    this.words[off >> 2] = PAD_MARKER;
    this.written = (this.written + tail) | 0;
    return 4;
  }

  /** Publishes the record whose `length` payload bytes were written at the offset reserve() gave. */
  commit(length: number): void {
    this.words[(this.written & this.mask) >> 2] = length;
    this.written = (this.written + recordBytes(length)) | 0;
    Atomics.store(this.ctl, WRITTEN, this.written);
    if (Atomics.load(this.ctl, CONSUMER_SLEEPING) === 1) Atomics.notify(this.ctl, WRITTEN);
  }

  /** Blocks the calling thread until a record of `length` could fit, or the timeout. */
  waitForRoom(length: number, timeoutMs: number): boolean {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const released = Atomics.load(this.ctl, RELEASED);
      if (this.fits(length, released)) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(this.ctl, RELEASED, released, left);
    }
  }

  /** Blocks the calling thread until acked >= seq or the timeout; used only at process exit. */
  waitForAck(seq: number, timeoutMs: number): boolean {
    return this.waitUntil(() => this.ackedSeq() >= seq, timeoutMs);
  }

  /** Blocks the calling thread until `check()` holds (re-checked as the worker frees or acks) or the timeout; process exit only. */
  waitUntil(check: () => boolean, timeoutMs: number): boolean {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (check()) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(this.ctl, RELEASED, Atomics.load(this.ctl, RELEASED), Math.min(left, 50));
    }
  }

  /** Whether a record of `length` fits now, counting the padding a wrap would need. */
  private fits(length: number, released: number): boolean {
    const need = recordBytes(length);
    const tail = this.capacity - (this.written & this.mask);
    const total = need <= tail ? need : need + tail;
    return ((this.written - released) >>> 0) + total <= this.capacity;
  }

  requestClose(): void {
    Atomics.store(this.ctl, CLOSING, 1);
    Atomics.notify(this.ctl, WRITTEN);
  }
}

/** A record the consumer has read: its payload is data[offset, offset + length); `seq` its sequence number. */
export interface RingRecord {
  data: Uint8Array;
  offset: number;
  length: number;
  seq: number;
}

/**
 * The worker's side: read ahead of the release point, release on ack. Without a spool it is the
 * record source itself: records are read in place, numbered 1, 2, ... in the order written.
 */
export class RingConsumer extends RingView implements RecordSource {
  readonly durable = false;
  private readPos: number;
  private releasedPos: number;
  /** Sequence numbers of the last record read and the last one released. */
  private readSeq: number;
  private releasedSeq: number;
  private record: RingRecord;
  /** Counts the next commit publishes, with the work they count (see addGivenUp, addJournaledCount). */
  private readonly toPublish: Record<JournaledCounter | 'givenUp', number> = { givenUp: 0, delivered: 0, spoolFull: 0 };

  constructor(buffer: SharedArrayBuffer) {
    super(buffer);
    // A worker that died mid-publish left the version odd; one that died mid-commit left the
    // commit journaled. Finish the commit (inside the bracket still open, if one is), so RELEASED
    // and ACKED_SEQ agree, then close the bracket, or the host keeps its old pair.
    const bracketOpen = (Atomics.load(this.ctl, PUBLISH_VERSION) & 1) === 1;
    if (Atomics.load(this.ctl, JOURNAL_PENDING) === 1) {
      this.applyJournal(bracketOpen);
      Atomics.store(this.ctl, JOURNAL_PENDING, 0);
    } else if (bracketOpen) {
      Atomics.add(this.ctl, PUBLISH_VERSION, 1);
    }
    this.releasedPos = Atomics.load(this.ctl, RELEASED);
    this.readPos = this.releasedPos;
    this.releasedSeq = this.ackedSeq();
    this.readSeq = this.releasedSeq;
    this.record = { data: this.data, offset: 0, length: 0, seq: 0 };
  }

  /** True when records were written that have not been read. */
  hasUnread(): boolean {
    return this.readPos !== Atomics.load(this.ctl, WRITTEN);
  }

  /** Bytes written but not yet read. */
  unreadBytes(): number {
    return (Atomics.load(this.ctl, WRITTEN) - this.readPos) >>> 0;
  }

  /** Reads the next record (the returned object is reused), or null when none is unread. */
  read(): RingRecord | null {
    if (!this.hasUnread()) return null;
    const pos = this.skipPad(this.readPos);
    const off = pos & this.mask;
    const length = this.words[off >> 2]!;
    this.record.offset = off + 4;
    this.record.length = length;
    this.record.seq = ++this.readSeq;
    this.readPos = (pos + recordBytes(length)) | 0;
    return this.record;
  }

  nextSeq(): number {
    return this.readSeq + 1;
  }

  /** Reads again from the release point: everything not acknowledged is resent. */
  rewind(): void {
    this.readPos = this.releasedPos;
    this.readSeq = this.releasedSeq;
  }

  /** Frees the oldest `records` records; `ackedSeq` is the sequence number of the last one. */
  release(records: number, ackedSeq: number): void {
    this.releasedSeq = ackedSeq;
    if (this.readSeq < ackedSeq) this.readSeq = ackedSeq;
    this.commit(this.advance(records), ackedSeq);
  }

  settle(through: number, givenUp: number): void {
    // Counted first: release() publishes it with the acked sequence number, as one pair.
    if (givenUp > 0) this.addGivenUp(givenUp);
    this.release(through - this.releasedSeq, through);
  }

  /**
   * Frees the oldest `records` records' space without acknowledging them: a spool took them
   * (its worker numbers and acknowledges them itself) and says how far it got in `spool`.
   */
  free(records: number, spool: { ringFreed: number; tailSeq: number }): void {
    this.commit(this.advance(records), this.ackedSeq(), spool);
  }

  /** Where the ring's space ends after freeing the oldest `records` records. */
  private advance(records: number): number {
    let pos = this.releasedPos;
    for (let i = 0; i < records; i++) {
      pos = this.skipPad(pos);
      pos = (pos + recordBytes(this.words[(pos & this.mask) >> 2]!)) | 0;
    }
    this.releasedPos = pos;
    if (((this.readPos - pos) | 0) < 0) this.readPos = pos;
    return pos;
  }

  /** Journals the new release point, acked sequence number, give-ups and spool progress, then applies them. */
  private commit(released: number, ackedSeq: number, spool?: { ringFreed: number; tailSeq: number }): void {
    const big = this.big;
    Atomics.store(big, JOURNAL.released, BigInt(released));
    Atomics.store(big, JOURNAL.ackedSeq, BigInt(ackedSeq));
    const counts = this.toPublish;
    Atomics.store(big, JOURNAL.givenUp, Atomics.load(big, GIVEN_UP) + BigInt(counts.givenUp));
    Atomics.store(big, JOURNAL.ringFreed, spool ? BigInt(spool.ringFreed) : Atomics.load(big, SPOOL_SLOTS.ringFreed));
    Atomics.store(big, JOURNAL.tailSeq, spool ? BigInt(spool.tailSeq) : Atomics.load(big, SPOOL_SLOTS.tailSeq));
    Atomics.store(big, JOURNAL.delivered, Atomics.load(big, SPOOL_SLOTS.delivered) + BigInt(counts.delivered));
    Atomics.store(big, JOURNAL.spoolFull, Atomics.load(big, SPOOL_SLOTS.spoolFull) + BigInt(counts.spoolFull));
    counts.givenUp = counts.delivered = counts.spoolFull = 0;
    Atomics.store(this.ctl, JOURNAL_PENDING, 1);
    this.applyJournal();
    Atomics.store(this.ctl, JOURNAL_PENDING, 0);
  }

  /**
   * Stores the journaled values (absolute, so applying twice is harmless). The acked pair goes in
   * one version bracket, so the host reads both new or both old (settled()); tailSeq before
   * ringFreed, so a host that sees records freed sees where they ended; RELEASED last.
   */
  private applyJournal(bracketOpen = false): void {
    const big = this.big;
    if (!bracketOpen) Atomics.add(this.ctl, PUBLISH_VERSION, 1);
    Atomics.store(big, GIVEN_UP, Atomics.load(big, JOURNAL.givenUp));
    Atomics.store(big, ACKED_SEQ, Atomics.load(big, JOURNAL.ackedSeq));
    Atomics.add(this.ctl, PUBLISH_VERSION, 1);
    Atomics.store(big, SPOOL_SLOTS.delivered, Atomics.load(big, JOURNAL.delivered));
    Atomics.store(big, SPOOL_SLOTS.spoolFull, Atomics.load(big, JOURNAL.spoolFull));
    Atomics.store(big, SPOOL_SLOTS.tailSeq, Atomics.load(big, JOURNAL.tailSeq));
    Atomics.store(big, SPOOL_SLOTS.ringFreed, Atomics.load(big, JOURNAL.ringFreed));
    Atomics.store(this.ctl, RELEASED, Number(Atomics.load(big, JOURNAL.released)));
    Atomics.notify(this.ctl, RELEASED); // a producer blocked in onFull 'block' or exit flush
  }

  /** Resolves when unread records exist, close is requested, or after timeoutMs. */
  async waitForData(timeoutMs: number): Promise<void> {
    const written = Atomics.load(this.ctl, WRITTEN);
    if (written !== this.readPos || this.closing()) return;
    Atomics.store(this.ctl, CONSUMER_SLEEPING, 1);
    try {
      // Re-check after announcing sleep: a write in between would not have notified.
      if (Atomics.load(this.ctl, WRITTEN) !== this.readPos || this.closing()) return;
      const result = Atomics.waitAsync(this.ctl, WRITTEN, written, timeoutMs);
      if (result.async) {
        // waitAsync does not keep Node's event loop alive: a thread with nothing else pending
        // would exit silently here instead of resolving. A ref'd timer holds it open.
        const keepAlive = setInterval(() => {}, 2 ** 30);
        try {
          await result.value;
        } finally {
          clearInterval(keepAlive);
        }
      }
    } finally {
      Atomics.store(this.ctl, CONSUMER_SLEEPING, 0);
    }
  }

  setConnectionState(state: ConnectionState): void {
    Atomics.store(this.ctl, CONNECTION, CONNECTION_STATES.indexOf(state));
  }

  addSent(n: number): void {
    Atomics.add(this.big, SENT, BigInt(n));
  }

  addResent(n: number): void {
    Atomics.add(this.big, RESENT, BigInt(n));
  }

  addReconnect(): void {
    Atomics.add(this.big, RECONNECTS, 1n);
  }

  highestSent(): number {
    return Number(Atomics.load(this.big, HIGHEST_SENT));
  }

  setHighestSent(seq: number): void {
    Atomics.store(this.big, HIGHEST_SENT, BigInt(seq));
  }

  /** Counts n of the records the next release() or setAckedSeq() settles as given up; published with it. */
  addGivenUp(n: number): void {
    this.toPublish.givenUp += n;
  }

  /** Counts n for a spool counter the next commit (free() or setAckedSeq()) publishes, with the work it counts. */
  addJournaledCount(name: JournaledCounter, n: number): void {
    this.toPublish[name] += n;
  }

  /** The spool's worker publishes where the acknowledged records end (see SPOOL_SLOTS), with any give-ups. */
  setAckedSeq(seq: number): void {
    this.commit(this.releasedPos, seq); // notifies RELEASED: the exit flush waits on it
  }

  setSpoolCounter(name: SpoolCounter, value: number): void {
    Atomics.store(this.big, SPOOL_SLOTS[name], BigInt(value));
  }

  addSpoolCounter(name: SpoolCounter, n: number): void {
    Atomics.add(this.big, SPOOL_SLOTS[name], BigInt(n));
  }

  setSpoolState(state: SpoolState): void {
    Atomics.store(this.ctl, SPOOL_STATE, SPOOL_STATES.indexOf(state));
    Atomics.notify(this.ctl, RELEASED);
  }

  private skipPad(pos: number): number {
    const off = pos & this.mask;
    return this.words[off >> 2] === PAD_MARKER ? (pos + (this.capacity - off)) | 0 : pos;
  }
}

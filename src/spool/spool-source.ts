// The record source of an output with a spool: the worker moves records from the ring into the
// spool's segment files as they arrive and frees their ring space at once; the consumer (gRPC
// sender or channel drain) reads them back from the spool and settles them on acks, which frees
// whole segments. emit() and the host thread see none of it: the ring just empties faster, and the
// spool's counters appear in the ring header.
//
// Sequence numbers continue from the spool's last record, across processes. Records found in the
// spool at start (the backlog of an earlier process) come first, in order; the receiver's dedupe
// skips any it had already taken.

import type { ConnectionState, RingConsumer, RingRecord } from '../ring/ring.js';
import type { RecordSource } from '../ring/record-source.js';
import { backoffDelay } from '../common/backoff.js';
import { DroppedRanges } from './dropped-ranges.js';
import type { SpoolConfig } from './options.js';
import { SpoolReader } from './reader.js';
import { SpoolStore, type Segment } from './store.js';
import { RECORD_HEADER_BYTES } from './format.js';

export interface SpoolSourceEvents {
  /** A line for the output's log hook. */
  log(line: string): void;
  /** The last failure, for stats().lastError. */
  error(text: string): void;
}

/** What the gRPC output's spool directory is known by: a new directory keeps `fresh`. */
export interface SpoolIdentity {
  fresh: string;
  /** The producerId option as the user gave it, or null. */
  requested: string | null;
}

/** Most bytes moved from the ring in one go (more than a ring holds: a late timer must not leave it full). */
const INGEST_BYTES = 32 * 1024 * 1024;
/** How long the worker keeps polling the ring after the last record before it sleeps until notified. */
const POLL_BEFORE_SLEEP_MS = 50;
/** A read position is remembered every this many records, so a rewind re-reads few. */
const MARK_EVERY = 128;
const GAUGES_MS = 250;
/** Repeated lines (a full spool) at most this often. */
const REPEAT_LOG_MS = 10_000;

interface Mark {
  seq: number;
  seg: Segment;
  offset: number;
  timeMs: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function text(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class SpoolSource implements RecordSource {
  readonly durable = true;
  /** The producer id kept in the directory (gRPC outputs), else null. */
  readonly producerId: string | null;
  private readonly store: SpoolStore;
  private readonly reader: SpoolReader;
  private readonly dropped = new DroppedRanges();
  /** Acknowledged by the destination through here. */
  private acked: number;
  /** Acknowledged or given up through here: what the host's flush waits for. */
  private settled: number;
  /** Ring records handled so far in this process (spooled or given up), across worker threads. */
  private ringHandled: number;
  /** A replacement worker: ring records the previous thread spooled but had not freed yet. */
  private skip = 0;
  private skipAtProgress = 0;
  private skipUncounted = 0;
  /** Losses through here were counted by an earlier thread of this process. */
  private readonly inheritedLossThrough: number;
  private lossCountedThrough: number;
  private marks: Mark[] = [];
  private sinceMark = 0;
  private lastReadSeq = -1;
  private waiters: Array<() => void> = [];
  private writeFailures = 0;
  private writeBlockedUntil = 0;
  private lastGauges = 0;
  private closed = false;
  private readonly lastLogged = new Map<string, number>();

  constructor(
    private readonly ring: RingConsumer,
    private readonly cfg: SpoolConfig,
    identity: SpoolIdentity | null,
    private readonly events: SpoolSourceEvents,
  ) {
    this.store = new SpoolStore(cfg, {
      log: (line) => events.log(line),
      dropped: (from, to) => this.giveUp(from, to, 'spoolFull', 'the spool is full (whenFull drop_oldest): the oldest segment was deleted'),
    });
    const opened = this.store.open();
    try {
      this.producerId = identity ? this.store.producerId(identity.fresh, identity.requested) : null;
    } catch (err) {
      this.store.close();
      throw err;
    }
    if (ring.spoolState() !== 'open') {
      ring.setSpoolCounter('replayed', opened.lastSeq - opened.ackedSeq);
      ring.setSpoolCounter('replayBase', opened.ackedSeq);
      ring.setSpoolCounter('tailSeq', opened.lastSeq);
      ring.setAckedSeq(opened.ackedSeq);
      this.acked = this.settled = opened.ackedSeq;
      this.ringHandled = 0;
      this.lossCountedThrough = this.inheritedLossThrough = 0;
      if (opened.lastSeq > opened.ackedSeq) this.say(`${opened.lastSeq - opened.ackedSeq} alert(s) from an earlier process to send first (#${opened.ackedSeq + 1}..#${opened.lastSeq})`);
    } else {
      // A replacement thread in the same process: the ring header says how far the last one got.
      this.acked = this.settled = Math.max(ring.ackedSeq(), opened.ackedSeq);
      this.ringHandled = ring.spoolCounter('ringFreed');
      this.lossCountedThrough = this.inheritedLossThrough = ring.spoolCounter('lossCountedThrough');
      const tail = ring.spoolCounter('tailSeq');
      if (opened.lastSeq > tail && opened.lastRingIndex !== null) {
        // It wrote records and died before freeing them: the ring still holds them.
        this.skip = (opened.lastRingIndex - this.ringHandled) >>> 0;
        this.skipUncounted = Math.max(0, this.skip - (opened.lastSeq - tail));
      }
    }
    this.reader = new SpoolReader(this.store, {
      lost: (from, to, why) => this.giveUp(from, to, 'corrupt', why),
      readError: (t) => this.diskError(t),
    });
    this.reader.seek(this.settled + 1);
    this.publishGauges(performance.now());
    ring.setSpoolState('open');
  }

  private say(line: string): void {
    this.events.log(`falco-grpc-output: spool ${this.cfg.dir}: ${line}`);
  }

  /** A line that may repeat, at most every REPEAT_LOG_MS per kind. */
  private sayNow(kind: string, line: string): void {
    const now = performance.now();
    if (now - (this.lastLogged.get(kind) ?? -Infinity) < REPEAT_LOG_MS) return;
    this.lastLogged.set(kind, now);
    this.say(line);
  }

  private diskError(detail: string): void {
    this.ring.addSpoolCounter('diskErrors', 1);
    const message = `spool ${this.cfg.dir}: ${detail}`;
    this.events.error(message);
    this.sayNow('disk', detail);
  }

  /** Sequence numbers from..to are gone; each is counted once, under `reason`. */
  private giveUp(from: number, to: number, reason: 'spoolFull' | 'corrupt', why: string): void {
    // Not yet counted: above the ack, not already given up, not counted by an earlier thread.
    const lo = Math.max(from, this.acked + 1, this.inheritedLossThrough + 1);
    const fresh = lo <= to ? to - lo + 1 - this.dropped.count(lo, to) : 0;
    if (Math.max(from, this.acked + 1) <= to) this.dropped.add(Math.max(from, this.acked + 1), to);
    if (fresh > 0) {
      this.ring.addSpoolCounter(reason, fresh);
      this.lossCountedThrough = Math.max(this.lossCountedThrough, to);
      this.ring.setSpoolCounter('lossCountedThrough', this.lossCountedThrough);
      if (reason === 'corrupt') this.say(`${fresh} alert(s) #${from}..#${to} lost: ${why}; skipped`);
      else this.sayNow('full', `${why}; ${fresh} alert(s) #${from}..#${to} given up`);
    }
    // The settled point moves in advance(), called by whoever called in here once the store is quiet.
  }

  // --- ring → spool -------------------------------------------------------------------------

  /** Runs until the host closes: moves records from the ring into the spool as they arrive. */
  async run(): Promise<void> {
    let lastData = performance.now();
    while (!this.closed) {
      let now = performance.now();
      if (this.ring.hasUnread() && now >= this.writeBlockedUntil) {
        this.ingest();
        lastData = now;
      }
      this.tick(now);
      if (this.ring.closing() && (!this.ring.hasUnread() || this.writeFailures > 0)) break;
      now = performance.now();
      // Poll while records keep coming (the host then never pays for a notify); sleep after a quiet spell.
      if (now - lastData < POLL_BEFORE_SLEEP_MS || now < this.writeBlockedUntil) await sleep(1);
      else await this.ring.waitForData(100);
    }
    this.wake();
  }

  /** Moves what the ring holds into the spool, then frees that ring space. */
  private ingest(): void {
    if (this.closed || !this.ring.hasUnread() || performance.now() < this.writeBlockedUntil) return;
    this.skipAtProgress = this.skip;
    const base = this.ringHandled;
    let handled = 0; // ring records read this round
    let progress = 0; // of them, written and freed
    let full = 0;
    let bytes = 0;
    const now = Date.now();
    try {
      for (let rec = this.ring.read(); rec !== null; rec = this.ring.read()) {
        handled++;
        if (this.skip > 0) {
          this.skip--;
          continue;
        }
        if (this.store.wouldStartSegment(rec.length)) {
          progress = this.progress(handled - 1, progress, full);
          full = 0;
        }
        if (this.store.append(rec.data, rec.offset, rec.length, base + handled, now) < 0) full++;
        bytes += rec.length;
        if (bytes >= INGEST_BYTES) break;
      }
      this.progress(handled, progress, full);
      this.writeFailures = 0;
    } catch (err) {
      this.store.discard();
      this.ring.rewind(); // back to the last record freed: they are written again on the next attempt
      this.skip = this.skipAtProgress;
      this.writeFailures++;
      this.writeBlockedUntil = performance.now() + backoffDelay(this.writeFailures, { baseMs: 100, capMs: 5000 });
      this.diskError(`writing failed: ${text(err)}; new alerts wait in the ring (counted as full when it fills) and the write is tried again`);
    }
  }

  /** Writes the appended records and frees the ring records through `handled`; returns `handled`. */
  private progress(handled: number, freed: number, full: number): number {
    if (handled === freed) return freed;
    this.store.commit();
    const counted = full + this.skipUncounted;
    this.skipUncounted = 0;
    if (counted > 0) {
      this.ring.addJournaledCount('spoolFull', counted); // published by the free() below
      this.sayNow('full', `the spool is full (maxBytes ${this.cfg.maxBytes}, whenFull drop_newest): new alerts are given up`);
    }
    this.skipAtProgress = this.skip;
    this.ringHandled += handled - freed;
    this.ring.free(handled - freed, { ringFreed: this.ringHandled, tailSeq: this.store.lastSeq });
    this.publishCounts();
    this.wake();
    this.advance();
    return handled;
  }

  private tick(now: number): void {
    if (this.closed) return;
    try {
      this.store.tick(now);
    } catch (err) {
      this.diskError(`updating the acked file or syncing failed: ${text(err)}`);
    }
    if (now - this.lastGauges >= GAUGES_MS) this.publishGauges(now);
  }

  private publishGauges(now: number): void {
    this.lastGauges = now;
    const mark = this.marks[0];
    // The mark kept after everything settled is an acked record's: with nothing in the spool there is no age.
    const alerts = this.publishCounts();
    const oldest = alerts === 0 ? 0 : mark !== undefined && mark.seq <= this.settled + 1 ? mark.timeMs : this.store.lastSeq > this.settled ? (this.reader.peek()?.timeMs ?? 0) : 0;
    this.ring.setSpoolCounter('oldestMs', Math.round(oldest));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Writes what is left in the ring and closes the files: everything unacknowledged waits for the next process. */
  close(): void {
    this.writeBlockedUntil = 0;
    while (this.ring.hasUnread() && this.writeFailures === 0) this.ingest();
    this.publishGauges(performance.now());
    this.closed = true;
    try {
      this.store.close();
    } catch (err) {
      this.diskError(`closing failed: ${text(err)}`);
    }
  }

  // --- spool → consumer ----------------------------------------------------------------------

  ackedSeq(): number {
    return this.settled;
  }

  hasUnread(): boolean {
    this.ingest();
    const some = this.reader.peek() !== null;
    this.advance();
    return some;
  }

  unreadBytes(): number {
    return this.reader.unreadBytes() + this.ring.unreadBytes();
  }

  nextSeq(): number {
    return this.reader.peek()?.seq ?? -1;
  }

  read(): RingRecord | null {
    const r = this.reader.peek();
    const at = this.reader.position();
    if (r === null || at === null) return null;
    if (this.sinceMark === 0 || r.seq !== this.lastReadSeq + 1) {
      this.marks.push({ seq: r.seq, seg: at.seg, offset: r.end - r.length - RECORD_HEADER_BYTES, timeMs: r.timeMs });
      this.sinceMark = 0;
    }
    this.sinceMark = (this.sinceMark + 1) % MARK_EVERY;
    this.lastReadSeq = r.seq;
    this.advance();
    return this.reader.take();
  }

  rewind(): void {
    const target = this.settled + 1;
    this.dropMarksBefore(target);
    const mark = this.marks[0];
    this.reader.seek(target, mark !== undefined && mark.seq <= target ? { seg: mark.seg, offset: mark.offset } : undefined);
    this.marks = [];
    this.sinceMark = 0;
    this.lastReadSeq = -1;
  }

  settle(through: number, givenUp: number): void {
    if (through <= this.acked) return;
    const delivered = through - this.acked - this.dropped.count(this.acked + 1, through) - givenUp;
    this.acked = through;
    this.dropped.pruneThrough(Math.min(through, this.settled));
    this.ring.addJournaledCount('delivered', Math.max(0, delivered));
    if (givenUp > 0) this.ring.addGivenUp(givenUp);
    // advance() publishes the counts with the settled point; if that did not move, publish them now.
    if (!this.advance() && (delivered > 0 || givenUp > 0)) this.ring.setAckedSeq(this.settled);
  }

  /** Moves the settled point over acknowledged and given-up records; frees whole segments behind it. True when it moved. */
  private advance(): boolean {
    const settled = this.dropped.settledFrom(Math.max(this.acked, this.settled));
    if (settled <= this.settled) return false;
    this.settled = settled;
    this.dropMarksBefore(settled + 1);
    try {
      this.store.ackThrough(settled);
    } catch (err) {
      this.diskError(`freeing acknowledged segments failed: ${text(err)}`);
    }
    this.ring.setAckedSeq(settled);
    this.publishCounts();
    return true;
  }

  /** The cheap gauges, kept current on every change; returns the alerts in the spool. */
  private publishCounts(): number {
    const next = this.settled + 1;
    const alerts = Math.max(0, this.store.lastSeq - this.settled - this.dropped.count(next, Number.MAX_SAFE_INTEGER));
    this.ring.setSpoolCounter('alerts', alerts);
    this.ring.setSpoolCounter('bytes', this.store.totalBytes);
    if (alerts === 0) this.ring.setSpoolCounter('oldestMs', 0);
    return alerts;
  }

  /** Keeps the newest mark at or before `seq` and those after it. */
  private dropMarksBefore(seq: number): void {
    let i = 0;
    while (i + 1 < this.marks.length && this.marks[i + 1]!.seq <= seq) i++;
    if (i > 0) this.marks.splice(0, i);
  }

  waitForData(timeoutMs: number): Promise<void> {
    if (this.hasUnread() || this.ring.closing()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.push(done);
    });
  }

  // --- worker status: the ring header's --------------------------------------------------------

  closing(): boolean {
    return this.ring.closing();
  }
  setConnectionState(state: ConnectionState): void {
    this.ring.setConnectionState(state);
  }
  addSent(n: number): void {
    this.ring.addSent(n);
  }
  addResent(n: number): void {
    this.ring.addResent(n);
  }
  addReconnect(): void {
    this.ring.addReconnect();
  }
  highestSent(): number {
    return this.ring.highestSent();
  }
  setHighestSent(seq: number): void {
    this.ring.setHighestSent(seq);
  }
}

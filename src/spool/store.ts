// The spool's segment files, on the output's worker thread only: recovery at open, appends,
// positional reads for the reader, deletion of whole segments once acknowledged, the fsync policy.
// Calls are synchronous: they block this worker thread (never the host's), and keep the order of
// appends, acks and deletions simple to reason about across a crash. The one exception is freeing
// an acknowledged segment's file: it is renamed out of the segment names at once, in order, and
// the slow part (the kernel freeing its page cache) runs on libuv's thread pool.
//
// Recovery reads segment headers and the end of the last segment (for a torn tail), so opening
// costs the same whatever the backlog; what lies before is checked as it is replayed.

import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  constants,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { close, fdatasync, fsync, open, unlink } from 'node:fs';
import { basename, join } from 'node:path';
import {
  ACKED_FILE,
  ACKED_FILE_BYTES,
  OPEN_FILE,
  ackedFile,
  PRODUCER_FILE,
  parseSegmentName,
  readAckedFile,
  readRecord,
  readSegmentHeader,
  RECORD_HEADER_BYTES,
  RECORD_MAGIC_BYTES,
  SEGMENT_HEADER_BYTES,
  segmentHeader,
  segmentName,
  SET_ASIDE_SUFFIX,
  DELETING_SUFFIX,
  writeRecordHeader,
  type RecordHeader,
} from './format.js';
import type { SpoolConfig } from './options.js';
import { SpoolReader } from './reader.js';

export interface StoreEvents {
  /** A line for the output's log hook. */
  log(line: string): void;
  /** Sequence numbers `from`..`to` are gone: given up by whenFull 'drop_oldest'. */
  dropped(from: number, to: number): void;
}

/** One segment file. Its records run from firstSeq to the next segment's firstSeq - 1. */
export class Segment {
  deleted = false;
  fd: number | null = null;
  constructor(
    readonly firstSeq: number,
    readonly path: string,
    /** Bytes of whole records in it (the file may be cut back to this). */
    public size: number,
    readonly createdMs: number,
  ) {}
}

export interface OpenedSpool {
  /** Everything through this sequence number is acknowledged (or was given up). */
  ackedSeq: number;
  /** The last sequence number in the spool (ackedSeq when it holds nothing unacknowledged). */
  lastSeq: number;
  /** The ring index of the last record, for a replacement worker of the same process. */
  lastRingIndex: number | null;
}

const ACK_WRITE_MS = 100;
/**
 * Bytes of the latest commits kept in memory for a reader close behind the writer (recent()):
 * reading them back from the page cache and checking each checksum again, for bytes written a
 * moment before, was a fifth of what the spool added to the process's CPU at 100,000/s
 * (docs/performance.md#spool). A reader far behind (the sender lagging) reads the file anyway.
 */
const RECENT_BYTES = 4 * 1024 * 1024;
/** And at most this many commits (at a low rate each holds a record or two): recent() looks through them. */
const RECENT_COMMITS = 1024;

/** Bytes written to `seg` at `start` by one commit. */
interface Written {
  seg: Segment;
  start: number;
  bytes: Buffer;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class SpoolStore {
  readonly segments: Segment[] = [];
  /** The segment appended to, created by this process; null until the first append. */
  private active: Segment | null = null;
  private pending = Buffer.allocUnsafe(256 * 1024);
  private pendingLen = 0;
  private recentWrites: Written[] = [];
  private recentBytes = 0;
  /** The last sequence number appended, and the last one written to a file. */
  lastSeq = 0;
  private committedSeq = 0;
  private ackedSeq = 0;
  private writtenAck = -1;
  private ackFd: number | null = null;
  /** Bytes of segment files, pending appends included: what maxBytes bounds. */
  totalBytes = 0;
  private dataDirty = false;
  private dirDirty = false;
  /** Sealed segments not forced to disk yet (fsync 'interval'). */
  private unsynced: Segment[] = [];
  /** Background syncs in flight. */
  private syncing = 0;
  private lastSync = 0;
  private lastAckWrite = 0;
  private closed = false;
  /** The last process had the directory open when the machine went down: its last writes may be lost. */
  private openAcrossReboot = false;

  constructor(
    readonly cfg: SpoolConfig,
    private readonly events: StoreEvents,
  ) {}

  private say(text: string): void {
    this.events.log(`falco-grpc-output: spool ${this.cfg.dir}: ${text}`);
  }

  /** The gRPC producer id kept in the directory: `fresh` on a directory that has none yet. */
  producerId(fresh: string, requested: string | null): string {
    const path = join(this.cfg.dir, PRODUCER_FILE);
    let kept: string | null = null;
    try {
      kept = readFileSync(path, 'utf8').trim() || null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.say(`${PRODUCER_FILE} is unreadable (${message(err)}); starting a new producer id`);
    }
    if (kept !== null && this.openAcrossReboot) {
      // The receiver may have alerts whose records the power loss took: numbers after what is on
      // disk could be taken for them and skipped. A new id cannot collide (the backlog may arrive twice).
      this.say(`was in use when the machine went down: the last alerts written may be gone from disk yet known to the receiver, so new alerts go under a new producer id (${fresh}, was ${kept}); the backlog may be delivered twice`);
      kept = null;
    }
    if (kept !== null) {
      if (requested !== null && !kept.startsWith(`${requested}#`)) {
        this.say(`keeps the producer id ${kept} it was created with; producerId ${requested} applies to a new spool directory`);
      }
      return kept;
    }
    writeFileSync(`${path}.tmp`, `${fresh}\n`);
    if (this.cfg.fsync !== 'never') this.syncFile(`${path}.tmp`);
    renameSync(`${path}.tmp`, path);
    this.dirDirty = true;
    return fresh;
  }

  /** Recovers the directory: sets damaged segments aside, cuts a torn tail, deletes what is acknowledged. */
  open(): OpenedSpool {
    mkdirSync(this.cfg.dir, { recursive: true });
    const names = readdirSync(this.cfg.dir);
    // Segments an earlier process (or thread) had acknowledged and was still deleting.
    for (const name of names) if (name.endsWith(DELETING_SUFFIX)) this.unlinkInBackground(join(this.cfg.dir, name));
    const named = names
      .map((name) => ({ name, seq: parseSegmentName(name) }))
      .filter((e): e is { name: string; seq: number } => e.seq !== null)
      .sort((a, b) => a.seq - b.seq);
    let acked = this.readAcked();
    const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
    for (const { name, seq } of named) {
      const path = join(this.cfg.dir, name);
      let problem: string | null = null;
      let size = 0;
      let createdMs = 0;
      try {
        const fd = openSync(path, 'r');
        try {
          size = fstatSync(fd).size;
          const read = readSync(fd, header, 0, SEGMENT_HEADER_BYTES, 0);
          const h = readSegmentHeader(header, read);
          if (typeof h === 'string') problem = h;
          else if (h.firstSeq !== seq) problem = `its header says it starts at #${h.firstSeq}, its name #${seq}`;
          else createdMs = h.createdMs;
        } finally {
          closeSync(fd);
        }
      } catch (err) {
        problem = message(err);
      }
      if (problem === null) this.segments.push(new Segment(seq, path, size, createdMs));
      else this.setAside(path, problem, seq);
    }
    // Segments go only once acknowledged: a directory that starts later was acknowledged that far
    // (the acked file may lag behind a deletion).
    if (named.length > 0) acked = Math.max(acked, named[0]!.seq - 1);
    let lastSeq = acked;
    let lastRingIndex: number | null = null;
    const last = this.segments.at(-1);
    if (last) {
      const tail = this.scanTail(last);
      lastSeq = Math.max(lastSeq, tail.lastSeq ?? last.firstSeq - 1);
      lastRingIndex = tail.lastRingIndex;
      // No record in it (a crash between creating it and its first write): removed now, so the
      // next append creates it again under its name, as the only segment of that name.
      if (last.size <= SEGMENT_HEADER_BYTES) this.deleteSegment(last);
    }
    this.lastSeq = this.committedSeq = lastSeq;
    this.totalBytes = this.segments.reduce((n, s) => n + s.size, 0);
    this.ackedSeq = acked;
    this.markOpen();
    // Read-write without O_APPEND: the file is rewritten in place at offset 0.
    this.ackFd = openSync(join(this.cfg.dir, ACKED_FILE), constants.O_RDWR | constants.O_CREAT, 0o644);
    this.deleteAcked();
    this.writeAck(true);
    return { ackedSeq: acked, lastSeq, lastRingIndex };
  }

  /** Notes the machine's boot id while the directory is open; finds one of another boot left behind. */
  private markOpen(): void {
    const path = join(this.cfg.dir, OPEN_FILE);
    let boot: string | null = null;
    try {
      boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(); // Linux; elsewhere no check
    } catch {
      return;
    }
    try {
      const previous = readFileSync(path, 'utf8').trim();
      this.openAcrossReboot = previous !== '' && previous !== boot;
    } catch {
      // not there: the last process closed cleanly, or this is a new directory
    }
    writeFileSync(path, `${boot}\n`);
  }

  private readAcked(): number {
    const path = join(this.cfg.dir, ACKED_FILE);
    try {
      const b = readFileSync(path);
      const seq = readAckedFile(b, b.length);
      if (seq !== null) return seq;
      if (b.length > 0) this.say(`${ACKED_FILE} is damaged; replaying from the oldest segment (the receiver skips what it has)`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.say(`${ACKED_FILE} is unreadable (${message(err)}); replaying from the oldest segment`);
    }
    return 0;
  }

  private setAside(path: string, problem: string, firstSeq: number): void {
    let where = `set aside as ${basename(path)}${SET_ASIDE_SUFFIX}`;
    try {
      renameSync(path, path + SET_ASIDE_SUFFIX);
    } catch (err) {
      where = `could not be set aside (${message(err)})`;
    }
    this.say(`segment ${basename(path)} is unreadable (${problem}); ${where}; its alerts from #${firstSeq} on are lost`);
  }

  /**
   * Finds the last good record of the last segment and cuts off what follows it (a write torn by a
   * crash). Damage before that record is left for the replay to count.
   */
  private scanTail(seg: Segment): { lastSeq: number | null; lastRingIndex: number | null } {
    const tail = this.lastRecordNearEnd(seg) ?? this.lastRecordFromStart(seg);
    const goodEnd = tail?.end ?? SEGMENT_HEADER_BYTES;
    if (goodEnd < seg.size) {
      const fd = openSync(seg.path, 'r+');
      try {
        ftruncateSync(fd, goodEnd);
      } finally {
        closeSync(fd);
      }
      this.say(`segment ${basename(seg.path)}: cut back ${seg.size - goodEnd} byte(s) after its last whole record (a write torn by a crash)`);
      seg.size = goodEnd;
    }
    return { lastSeq: tail?.seq ?? null, lastRingIndex: tail?.ringIndex ?? null };
  }

  /**
   * The last whole record, looked for backwards from the end: the highest record magic whose
   * checksum holds (one inside a payload would need a CRC collision). Opening then reads a few
   * MiB whatever the segment's size; null when the tail holds no whole record.
   */
  private lastRecordNearEnd(seg: Segment): { seq: number; ringIndex: number; end: number } | null {
    const window = Math.min(seg.size - SEGMENT_HEADER_BYTES, 2 * 1024 * 1024 + RECORD_HEADER_BYTES + this.cfg.maxRecordBytes);
    if (window <= 0) return null;
    const start = seg.size - window;
    const buf = this.readChunk(seg, start, window);
    const h: RecordHeader = { length: 0, ringIndex: 0, seq: 0, timeMs: 0 };
    // Sequence numbers grow along the segment: a record near the end numbered no higher than the
    // first one is stale data, not the last record.
    const head = this.readChunk(seg, SEGMENT_HEADER_BYTES, RECORD_HEADER_BYTES + this.cfg.maxRecordBytes);
    const firstSeq = readRecord(head, 0, head.length, this.cfg.maxRecordBytes, h) === 'ok' ? h.seq : seg.firstSeq;
    for (let p = buf.lastIndexOf(RECORD_MAGIC_BYTES); p >= 0; p = p > 0 ? buf.lastIndexOf(RECORD_MAGIC_BYTES, p - 1) : -1) {
      if (readRecord(buf, p, buf.length, this.cfg.maxRecordBytes, h) !== 'ok') continue;
      if (h.seq > firstSeq || start + p === SEGMENT_HEADER_BYTES) return { seq: h.seq, ringIndex: h.ringIndex, end: start + p + RECORD_HEADER_BYTES + h.length };
    }
    return null;
  }

  /** The same, reading the whole segment: when the tail is damaged beyond the window. */
  private lastRecordFromStart(seg: Segment): { seq: number; ringIndex: number; end: number } | null {
    const reader = new SpoolReader(this, { lost: () => {}, readError: (text) => this.say(text) });
    reader.seek(seg.firstSeq, { seg, offset: SEGMENT_HEADER_BYTES });
    let last: { seq: number; ringIndex: number; end: number } | null = null;
    for (let r = reader.take(); r !== null; r = reader.take()) last = { seq: r.seq, ringIndex: r.ringIndex, end: r.end };
    return last;
  }

  /** Up to `bytes` bytes of `seg` from `position` (fewer at its end). Throws on a read error. */
  readChunk(seg: Segment, position: number, bytes: number): Buffer {
    const want = Math.max(0, Math.min(bytes, seg.size - position));
    const buf = Buffer.allocUnsafe(want);
    if (want === 0) return buf;
    seg.fd ??= openSync(seg.path, 'r');
    let got = 0;
    while (got < want) {
      const n = readSync(seg.fd, buf, got, want - got, position + got);
      if (n === 0) break;
      got += n;
    }
    return got === want ? buf : buf.subarray(0, got);
  }

  /** The segment after `seg` still on disk, or null. */
  nextSegment(seg: Segment): Segment | null {
    for (const s of this.segments) if (s.firstSeq > seg.firstSeq) return s;
    return null;
  }

  /** The segment that holds `seq`, or the first one after it, or null. */
  segmentFor(seq: number): Segment | null {
    let found: Segment | null = null;
    for (const s of this.segments) {
      if (s.firstSeq <= seq) found = s;
      else return found ?? s;
    }
    return found;
  }

  /** True when `seg` gets no more records: a reader at its end moves on to the next. */
  sealed(seg: Segment): boolean {
    return seg !== this.active && seg !== this.segments.at(-1);
  }

  /** True when appending a record of `length` bytes starts a new segment (the caller commits first). */
  wouldStartSegment(length: number): boolean {
    if (this.active === null) return true;
    const size = this.active.size + this.pendingLen;
    return size + RECORD_HEADER_BYTES + length > this.cfg.segmentBytes && size > SEGMENT_HEADER_BYTES;
  }

  /**
   * Appends one record (written to the file by commit()); returns its sequence number, or -1 when
   * the spool is full and whenFull is 'drop_newest'. Throws when a file cannot be created.
   */
  append(data: Uint8Array, offset: number, length: number, ringIndex: number, timeMs: number): number {
    const need = RECORD_HEADER_BYTES + length;
    if (this.totalBytes + need > this.cfg.maxBytes) {
      if (this.cfg.whenFull === 'drop_newest') return -1;
      this.dropOldest(need);
      if (this.totalBytes + need > this.cfg.maxBytes) return -1;
    }
    if (this.wouldStartSegment(length)) {
      this.commit();
      this.seal();
      this.createSegment(this.lastSeq + 1, timeMs);
    }
    if (this.pendingLen + need > this.pending.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.pending.length * 2, this.pendingLen + need));
      this.pending.copy(bigger, 0, 0, this.pendingLen);
      this.pending = bigger;
    }
    this.pending.set(data.subarray(offset, offset + length), this.pendingLen + RECORD_HEADER_BYTES);
    const seq = this.lastSeq + 1;
    writeRecordHeader(this.pending, this.pendingLen, length, ringIndex, seq, timeMs);
    this.lastSeq = seq;
    this.pendingLen += need;
    this.totalBytes += need;
    return seq;
  }

  /**
   * Writes the appended records to the segment file (and to the disk, with fsync 'always'). On a
   * failure they are taken back, the file cut back to its last whole record, and the error thrown.
   */
  commit(): void {
    if (this.pendingLen === 0) return;
    const seg = this.active!;
    try {
      let done = 0;
      while (done < this.pendingLen) done += writeSync(seg.fd!, this.pending, done, this.pendingLen - done, seg.size + done);
      if (this.cfg.fsync === 'always') {
        fdatasyncSync(seg.fd!);
        if (this.dirDirty) this.syncDir();
      }
    } catch (err) {
      this.discard();
      try {
        ftruncateSync(seg.fd!, seg.size);
      } catch {
        this.seal(); // a file that cannot be cut back gets no more records: the next append starts a new one
      }
      throw err;
    }
    this.remember(seg, seg.size);
    seg.size += this.pendingLen;
    this.committedSeq = this.lastSeq;
    this.pendingLen = 0;
    this.dataDirty = true;
  }

  /**
   * Keeps a copy of what commit() just wrote at `start` of `seg`: a buffer of its own, exactly its
   * size (pending is reused, and readers keep views of these until their records are acknowledged).
   */
  private remember(seg: Segment, start: number): void {
    const bytes = Buffer.allocUnsafeSlow(this.pendingLen);
    this.pending.copy(bytes, 0, 0, this.pendingLen);
    this.recentWrites.push({ seg, start, bytes });
    this.recentBytes += bytes.length;
    while ((this.recentBytes > RECENT_BYTES || this.recentWrites.length > RECENT_COMMITS) && this.recentWrites.length > 1) {
      this.recentBytes -= this.recentWrites.shift()!.bytes.length;
    }
  }

  /**
   * The bytes of `seg` from `position` to the end of the commit that wrote them, while that commit
   * is among the latest (RECENT_BYTES); else null, and the reader reads the file. These are the
   * bytes as written, so the checksums need no second check.
   */
  recent(seg: Segment, position: number): Buffer | null {
    for (let i = this.recentWrites.length - 1; i >= 0; i--) {
      const w = this.recentWrites[i]!;
      if (w.seg !== seg || position < w.start) continue;
      return position < w.start + w.bytes.length ? w.bytes.subarray(position - w.start) : null;
    }
    return null;
  }

  /** Takes back the records appended since the last commit. */
  discard(): void {
    this.totalBytes -= this.pendingLen;
    this.pendingLen = 0;
    this.lastSeq = this.committedSeq;
  }

  private createSegment(firstSeq: number, timeMs: number): void {
    const path = join(this.cfg.dir, segmentName(firstSeq));
    const fd = openSync(path, 'w+');
    const seg = new Segment(firstSeq, path, 0, timeMs);
    seg.fd = fd;
    try {
      writeSync(fd, segmentHeader(firstSeq, timeMs), 0, SEGMENT_HEADER_BYTES, 0);
    } catch (err) {
      closeSync(fd);
      try {
        unlinkSync(path); // an empty segment is worth nothing; the retry creates it again
      } catch {
        // already gone
      }
      throw err;
    }
    seg.size = SEGMENT_HEADER_BYTES;
    this.segments.push(seg);
    this.totalBytes += SEGMENT_HEADER_BYTES;
    this.active = seg;
    this.dirDirty = true;
  }

  /** The active segment gets no more records; it is forced to disk now (fsync 'always') or with the next sync ('interval'). */
  private seal(): void {
    const seg = this.active;
    if (seg === null) return;
    this.active = null;
    if (seg.fd === null || this.cfg.fsync === 'never') return;
    if (this.cfg.fsync === 'interval') {
      if (this.dataDirty) this.unsynced.push(seg);
      return;
    }
    try {
      fdatasyncSync(seg.fd);
    } catch {
      // its records were written; a failed sync is reported by the next write, if the disk is gone
    }
  }

  /** whenFull 'drop_oldest': deletes the oldest segments until `need` more bytes fit. */
  private dropOldest(need: number): void {
    while (this.totalBytes + need > this.cfg.maxBytes && this.segments.length > 0) {
      const oldest = this.segments[0]!;
      if (oldest === this.active) return; // the segment being written stays: the new record is given up instead
      const next = this.segments[1];
      const last = next ? next.firstSeq - 1 : this.committedSeq;
      this.deleteSegment(oldest);
      if (last > this.ackedSeq) this.events.dropped(Math.max(oldest.firstSeq, this.ackedSeq + 1), last);
    }
  }

  private deleteSegment(seg: Segment): void {
    seg.deleted = true;
    this.segments.splice(this.segments.indexOf(seg), 1);
    this.totalBytes -= seg.size;
    if (seg === this.active) this.active = null;
    if (seg.fd !== null) {
      try {
        closeSync(seg.fd);
      } catch {
        // closing cannot fail in a way that matters here
      }
      seg.fd = null;
    }
    // Renamed now, so the segment is gone from the directory in order and its name is free for a
    // new segment; unlinked in the background, because unlinking a 64 MiB file frees its page
    // cache, tens of milliseconds this thread would stall for while the ring fills.
    const gone = seg.path + DELETING_SUFFIX;
    try {
      renameSync(seg.path, gone);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.say(`could not delete ${basename(seg.path)}: ${message(err)}`);
      return;
    }
    this.unlinkInBackground(gone);
  }

  private unlinkInBackground(path: string): void {
    unlink(path, (err) => {
      if (err && err.code !== 'ENOENT' && !this.closed) this.say(`could not delete ${basename(path)}: ${message(err)}`);
    });
  }

  /** Everything through `seq` is acknowledged or given up: whole segments behind it are deleted. */
  ackThrough(seq: number): void {
    if (seq <= this.ackedSeq) return;
    this.ackedSeq = seq;
    this.deleteAcked();
  }

  private deleteAcked(): void {
    while (this.segments.length > 1 || (this.segments.length === 1 && this.segments[0] !== this.active)) {
      const seg = this.segments[0]!;
      const next = this.segments[1];
      const last = next ? next.firstSeq - 1 : this.committedSeq;
      if (last > this.ackedSeq || seg === this.active) break;
      this.deleteSegment(seg);
    }
  }

  /** Periodic work: the acked file, and fsync 'interval'. */
  tick(now: number): void {
    if (now - this.lastAckWrite >= ACK_WRITE_MS) this.writeAck(false);
    if (this.cfg.fsync === 'interval' && now - this.lastSync >= this.cfg.fsyncIntervalMs) this.sync();
  }

  private writeAck(force: boolean): void {
    if ((!force && this.ackedSeq === this.writtenAck) || this.ackFd === null) return;
    // Not atomic with the deletions: the acked file only ever lags, and a lagging one costs resends.
    writeSync(this.ackFd, ackedFile(this.ackedSeq), 0, ACKED_FILE_BYTES, 0);
    if (force) ftruncateSync(this.ackFd, ACKED_FILE_BYTES);
    if (this.cfg.fsync === 'always') fdatasyncSync(this.ackFd);
    this.writtenAck = this.ackedSeq;
    this.lastAckWrite = performance.now();
  }

  /**
   * fsync 'interval': forces what was written since the last time to disk on libuv's thread pool,
   * so that a slow disk never stalls this thread (the ring would fill behind it). One round at a time.
   */
  private sync(): void {
    if (this.syncing > 0) return;
    this.lastSync = performance.now();
    const fds = this.dirtyFds();
    const done = (err: NodeJS.ErrnoException | null): void => {
      this.syncing--;
      // EBADF: the segment was deleted (acknowledged) meanwhile; its data no longer matter.
      if (err && err.code !== 'EBADF') this.say(`forcing writes to disk failed: ${err.message}`);
    };
    this.syncing += fds.length;
    for (const fd of fds) fdatasync(fd, done);
    if (this.dirDirty) {
      this.dirDirty = false;
      this.syncing++;
      open(this.cfg.dir, 'r', (err, fd) => {
        if (err) return done(err);
        fsync(fd, (e) => close(fd, () => done(e)));
      });
    }
  }

  /** The files written since the last sync: sealed segments, the active one, the acked file. */
  private dirtyFds(): number[] {
    const fds = this.unsynced.filter((seg) => !seg.deleted && seg.fd !== null).map((seg) => seg.fd!);
    this.unsynced = [];
    if (this.dataDirty && this.active?.fd != null) fds.push(this.active.fd);
    this.dataDirty = false;
    if (this.ackFd !== null && this.writtenAck >= 0) fds.push(this.ackFd);
    return fds;
  }

  private syncDir(): void {
    this.dirDirty = false;
    this.syncFile(this.cfg.dir);
  }

  private syncFile(path: string): void {
    const fd = openSync(path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Writes what is pending, the acked file, syncs (unless fsync 'never') and closes every file. */
  close(): void {
    try {
      this.commit();
      this.writeAck(true);
      if (this.cfg.fsync !== 'never') {
        for (const fd of this.dirtyFds()) fdatasyncSync(fd);
        this.syncDir();
      }
      try {
        unlinkSync(join(this.cfg.dir, OPEN_FILE));
      } catch {
        // not written (no boot id here), or already gone
      }
    } finally {
      this.closed = true;
      for (const seg of this.segments) {
        if (seg.fd !== null) closeSync(seg.fd);
        seg.fd = null;
      }
      if (this.ackFd !== null) closeSync(this.ackFd);
      this.ackFd = null;
      this.active = null;
      this.recentWrites = [];
      this.recentBytes = 0;
    }
  }
}

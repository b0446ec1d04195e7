// Reads a spool's records in sequence order, segment after segment, checking each record's
// checksum. Damage never stops it: a bad record is skipped by looking for the next record magic,
// a segment that ends early is left for the next one, and what was lost between is reported as a
// range of sequence numbers (consecutive numbering makes the count exact). A read error is damage
// too: it costs the rest of that segment, never a retry loop.

import { readRecord, RECORD_HEADER_BYTES, RECORD_MAGIC_BYTES, SEGMENT_HEADER_BYTES, type RecordHeader } from './format.js';
import type { RingRecord } from '../ring/ring.js';
import type { Segment, SpoolStore } from './store.js';

/** Bytes read from a segment at a time (more when one record is larger). */
const CHUNK_BYTES = 1024 * 1024;

export interface ReaderEvents {
  /** Sequence numbers `from`..`to` cannot be read: `why` says what was found. */
  lost(from: number, to: number, why: string): void;
  /** A read failed: the text names the file. */
  readError(text: string): void;
}

export interface SpoolRecord extends RingRecord {
  /** When it was spooled, ms since the epoch. */
  timeMs: number;
  ringIndex: number;
  /** Where it ends in its segment. */
  end: number;
}

export class SpoolReader {
  private seg: Segment | null = null;
  private offset = SEGMENT_HEADER_BYTES;
  /** The sequence number wanted next: records below it are skipped. */
  private expect = 1;
  private chunk: Buffer = Buffer.alloc(0);
  private chunkSeg: Segment | null = null;
  private chunkStart = 0;
  /** The chunk came from the file, not from the store's memory of its latest commits: check checksums. */
  private chunkFromFile = true;
  private readonly header: RecordHeader = { length: 0, ringIndex: 0, seq: 0, timeMs: 0 };
  private readonly chunkBytes: number;
  private ready = false;
  /** What the last resync skipped, for the loss it causes. */
  private damage: string | null = null;
  readonly record: SpoolRecord = { data: this.chunk, offset: 0, length: 0, seq: 0, timeMs: 0, ringIndex: 0, end: 0 };

  constructor(
    private readonly store: SpoolStore,
    private readonly events: ReaderEvents,
  ) {
    this.chunkBytes = Math.max(CHUNK_BYTES, RECORD_HEADER_BYTES + store.cfg.maxRecordBytes);
  }

  /** Reads from `seq` on, starting the search at a known position (a record at or before it) when given. */
  seek(seq: number, at?: { seg: Segment; offset: number }): void {
    this.expect = seq;
    this.ready = false;
    if (at && !at.seg.deleted) {
      this.seg = at.seg;
      this.offset = at.offset;
    } else {
      this.seg = this.store.segmentFor(seq);
      this.offset = SEGMENT_HEADER_BYTES;
    }
  }

  /** Where the next record is looked for. */
  position(): { seg: Segment; offset: number } | null {
    return this.seg === null ? null : { seg: this.seg, offset: this.offset };
  }

  /** The next record (reused object; its bytes stay valid), without consuming it; null when none is there yet. */
  peek(): SpoolRecord | null {
    if (this.ready) return this.record;
    for (;;) {
      const seg = this.seg ?? this.store.segmentFor(this.expect);
      if (seg === null) return null;
      if (seg.deleted) {
        this.seek(this.expect);
        if (this.seg === null) return null;
        continue;
      }
      this.seg = seg;
      if (this.offset >= seg.size) {
        if (!this.moveOn(seg, null)) return null;
        continue;
      }
      const found = this.parseAt(seg);
      if (found === 'wait') return null;
      if (found === 'damaged') continue;
      const h = this.header;
      if (h.seq < this.expect) {
        this.offset += RECORD_HEADER_BYTES + h.length;
        continue;
      }
      if (h.seq > this.expect) {
        this.events.lost(this.expect, h.seq - 1, this.damage ?? `sequence numbers missing in ${name(seg)}`);
        this.expect = h.seq;
      }
      this.damage = null;
      const r = this.record;
      r.data = this.chunk;
      r.offset = this.offset - this.chunkStart + RECORD_HEADER_BYTES;
      r.length = h.length;
      r.seq = h.seq;
      r.timeMs = h.timeMs;
      r.ringIndex = h.ringIndex;
      r.end = this.offset + RECORD_HEADER_BYTES + h.length;
      this.ready = true;
      return r;
    }
  }

  /** Consumes the record peek() returned. */
  take(): SpoolRecord | null {
    const r = this.peek();
    if (r === null) return null;
    this.ready = false;
    this.offset = r.end;
    this.expect = r.seq + 1;
    return r;
  }

  /** Bytes left to read in the segments after the current position (an estimate for batching). */
  unreadBytes(): number {
    if (this.seg === null) return 0;
    let n = Math.max(0, this.seg.size - this.offset);
    for (let s = this.store.nextSegment(this.seg); s !== null && n < 1 << 30; s = this.store.nextSegment(s)) n += s.size;
    return n;
  }

  /**
   * At the end of `seg`: moves to the next segment when `seg` is sealed, reporting what should
   * have been in it and was not. Returns false when there is nothing further yet.
   */
  private moveOn(seg: Segment, why: string | null): boolean {
    if (!this.store.sealed(seg)) return false;
    const next = this.store.nextSegment(seg);
    if (next === null) return false;
    if (next.firstSeq > this.expect) {
      this.events.lost(this.expect, next.firstSeq - 1, why ?? this.damage ?? `${name(seg)} ends before them (truncated, or a segment set aside)`);
      this.expect = next.firstSeq;
    }
    this.damage = null;
    this.seg = next;
    this.offset = SEGMENT_HEADER_BYTES;
    return true;
  }

  /** Reads the record at the current position: 'ok', 'wait' (not all written yet) or 'damaged' (position moved on). */
  private parseAt(seg: Segment): 'ok' | 'wait' | 'damaged' {
    if (!this.covers(seg, this.offset, RECORD_HEADER_BYTES) && !this.load(seg, this.offset)) return 'damaged';
    let r = readRecord(this.chunk, this.offset - this.chunkStart, this.chunk.length, this.store.cfg.maxRecordBytes, this.header, this.chunkFromFile);
    if (r === 'short' && this.chunkStart + this.chunk.length < seg.size) {
      // The chunk ends inside the record: read again from its start (a chunk holds the largest record).
      if (!this.load(seg, this.offset)) return 'damaged';
      r = readRecord(this.chunk, 0, this.chunk.length, this.store.cfg.maxRecordBytes, this.header, this.chunkFromFile);
    }
    if (r === 'ok') return 'ok';
    // The segment ends inside a record: one still being written, unless the segment is sealed.
    if (r === 'short') {
      if (!this.store.sealed(seg)) return 'wait';
      this.damage = `${name(seg)} ends inside a record at byte ${this.offset} (cut short)`;
      this.offset = seg.size;
      return 'damaged';
    }
    this.resync(seg);
    return 'damaged';
  }

  /** Past a damaged record: to the next one whose checksum holds, or to the segment's end. */
  private resync(seg: Segment): void {
    const from = this.offset;
    let pos = from + 1;
    this.offset = seg.size;
    while (pos + RECORD_HEADER_BYTES <= seg.size) {
      if (!this.covers(seg, pos, RECORD_HEADER_BYTES) && !this.load(seg, pos)) return;
      const hit = this.chunk.indexOf(RECORD_MAGIC_BYTES, pos - this.chunkStart);
      if (hit < 0) {
        if (this.chunkStart + this.chunk.length >= seg.size) break;
        // Overlap the next chunk by a magic's length less one; always forward (a chunk from memory can be that short).
        pos = Math.max(pos + 1, this.chunkStart + this.chunk.length - (RECORD_MAGIC_BYTES.length - 1));
        continue;
      }
      pos = this.chunkStart + hit;
      if (!this.covers(seg, pos, RECORD_HEADER_BYTES + this.store.cfg.maxRecordBytes) && !this.load(seg, pos)) return;
      const r = readRecord(this.chunk, pos - this.chunkStart, this.chunk.length, this.store.cfg.maxRecordBytes, this.header, this.chunkFromFile);
      if (r === 'ok' && this.header.seq >= this.expect) {
        this.offset = pos;
        break;
      }
      pos++;
    }
    this.damage = `damaged bytes ${from}..${this.offset} of ${name(seg)} (bad checksum)`;
  }

  private covers(seg: Segment, at: number, bytes: number): boolean {
    const end = Math.min(at + bytes, seg.size);
    return this.chunkSeg === seg && at >= this.chunkStart && end <= this.chunkStart + this.chunk.length;
  }

  /** Reads a chunk of `seg` from `at`; false after a read error (the rest of the segment is skipped). */
  private load(seg: Segment, at: number): boolean {
    try {
      const recent = this.store.recent(seg, at);
      this.chunk = recent ?? this.store.readChunk(seg, at, this.chunkBytes);
      this.chunkFromFile = recent === null;
      this.chunkSeg = seg;
      this.chunkStart = at;
      return true;
    } catch (err) {
      this.events.readError(`reading ${seg.path} at byte ${at}: ${err instanceof Error ? err.message : String(err)}`);
      this.offset = seg.size;
      if (!this.moveOn(seg, `${name(seg)} could not be read`)) this.offset = seg.size;
      return false;
    }
  }
}

function name(seg: Segment): string {
  return seg.path.slice(seg.path.lastIndexOf('/') + 1);
}

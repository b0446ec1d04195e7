// The spool's files, byte for byte. Everything about their layout lives here.
//
// A spool directory holds:
//   lock                   the pid of the process using it (src/spool/lock.ts)
//   producer-id            the gRPC producer id, kept for the directory's life
//   acked                  the sequence number through which everything is acknowledged
//   open-since-boot        while open: the machine's boot id (a power loss leaves it behind)
//   0000000000000001.seg   segments, named by their first sequence number, appended in order
//   ….seg.bad              segments set aside as unreadable (never read again; delete at will)
//
// A segment is a 32-byte header, then records back to back:
//   header  [0,8) "FGOSPOOL"  [8,12) version u32  [12,16) CRC-32 of [16,32)  [16,24) first seq f64  [24,32) created ms f64
//   record  [0,4) magic u32  [4,8) payload length u32  [8,12) CRC-32 of [12, 32 + length)
//           [12,16) ring index u32  [16,24) seq f64  [24,32) spooled-at ms f64  [32, 32 + length) payload
// The payload is the alert as the ring held it (encoded falco.outputs.response). Sequence numbers
// are consecutive across the whole spool, so what is missing can always be counted. The magic lets
// a reader find the next record after a damaged one. Integers are little-endian; sequence numbers
// and times are doubles, exact up to 2^53.

import { crc32 } from 'node:zlib';

export const SEGMENT_HEADER_BYTES = 32;
export const RECORD_HEADER_BYTES = 32;
const SEGMENT_MAGIC = Buffer.from('FGOSPOOL', 'latin1');
const SEGMENT_VERSION = 1;
export const RECORD_MAGIC = 0x31524746; // "FGR1"
/** The record magic as bytes, for Buffer.indexOf when resynchronising. */
export const RECORD_MAGIC_BYTES = Buffer.from([0x46, 0x47, 0x52, 0x31]);

export const LOCK_FILE = 'lock';
export const PRODUCER_FILE = 'producer-id';
export const ACKED_FILE = 'acked';
/** While a process has the directory open: the boot id of the machine it runs on (removed by a clean close). */
export const OPEN_FILE = 'open-since-boot';
export const ACKED_FILE_BYTES = 16;
const SEGMENT_NAME = /^(\d{16})\.seg$/;
export const SET_ASIDE_SUFFIX = '.bad';
/** An acknowledged segment renamed out of the way, being deleted (leftovers are removed at open). */
export const DELETING_SUFFIX = '.deleting';

export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(16, '0')}.seg`;
}

/** The first sequence number a segment file's name gives, or null for any other file. */
export function parseSegmentName(name: string): number | null {
  const m = SEGMENT_NAME.exec(name);
  return m ? Number(m[1]) : null;
}

export function segmentHeader(firstSeq: number, createdMs: number): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(b, 0);
  b.writeUInt32LE(SEGMENT_VERSION, 8);
  b.writeDoubleLE(firstSeq, 16);
  b.writeDoubleLE(createdMs, 24);
  b.writeUInt32LE(crc32(b.subarray(16, 32)), 12);
  return b;
}

/** A segment header's contents, or what is wrong with it. */
export function readSegmentHeader(b: Buffer, bytes: number): { firstSeq: number; createdMs: number } | string {
  if (bytes < SEGMENT_HEADER_BYTES) return `${bytes} bytes long, shorter than a segment header`;
  if (!b.subarray(0, 8).equals(SEGMENT_MAGIC)) return 'not a spool segment (bad magic)';
  const version = b.readUInt32LE(8);
  if (version !== SEGMENT_VERSION) return `segment version ${version}, this version reads ${SEGMENT_VERSION}`;
  if (b.readUInt32LE(12) !== crc32(b.subarray(16, 32))) return 'segment header checksum mismatch';
  return { firstSeq: b.readDoubleLE(16), createdMs: b.readDoubleLE(24) };
}

export function recordBytes(length: number): number {
  return RECORD_HEADER_BYTES + length;
}

/** Writes a record's header at `at`, its payload already at at + RECORD_HEADER_BYTES. */
export function writeRecordHeader(b: Buffer, at: number, length: number, ringIndex: number, seq: number, timeMs: number): void {
  b.writeUInt32LE(RECORD_MAGIC, at);
  b.writeUInt32LE(length, at + 4);
  b.writeUInt32LE(ringIndex >>> 0, at + 12);
  b.writeDoubleLE(seq, at + 16);
  b.writeDoubleLE(timeMs, at + 24);
  b.writeUInt32LE(crc32(b.subarray(at + 12, at + RECORD_HEADER_BYTES + length)), at + 8);
}

/** A record header as read (reused object). */
export interface RecordHeader {
  length: number;
  ringIndex: number;
  seq: number;
  timeMs: number;
}

/**
 * Reads the record at b[at, ...): 'ok' (header filled in; checksum verified unless `checksum` is
 * false: bytes this process holds as it wrote them), 'short' (b ends before the record does: read
 * more), or 'bad' (not a record, or damaged).
 */
export function readRecord(b: Buffer, at: number, end: number, maxLength: number, out: RecordHeader, checksum = true): 'ok' | 'short' | 'bad' {
  if (end - at < RECORD_HEADER_BYTES) return 'short';
  if (b.readUInt32LE(at) !== RECORD_MAGIC) return 'bad';
  const length = b.readUInt32LE(at + 4);
  if (length > maxLength) return 'bad';
  if (end - at < RECORD_HEADER_BYTES + length) return 'short';
  if (checksum && b.readUInt32LE(at + 8) !== crc32(b.subarray(at + 12, at + RECORD_HEADER_BYTES + length))) return 'bad';
  const seq = b.readDoubleLE(at + 16);
  if (!Number.isSafeInteger(seq) || seq < 1) return 'bad';
  out.length = length;
  out.ringIndex = b.readUInt32LE(at + 12);
  out.seq = seq;
  out.timeMs = b.readDoubleLE(at + 24);
  return 'ok';
}

export function ackedFile(seq: number): Buffer {
  const b = Buffer.alloc(ACKED_FILE_BYTES);
  b.writeDoubleLE(seq, 0);
  b.writeUInt32LE(crc32(b.subarray(0, 8)), 8);
  b.writeUInt32LE(RECORD_MAGIC, 12);
  return b;
}

/** The acknowledged sequence number an `acked` file holds, or null when it is damaged. */
export function readAckedFile(b: Buffer, bytes: number): number | null {
  if (bytes !== ACKED_FILE_BYTES || b.readUInt32LE(12) !== RECORD_MAGIC || b.readUInt32LE(8) !== crc32(b.subarray(0, 8))) return null;
  const seq = b.readDoubleLE(0);
  return Number.isSafeInteger(seq) && seq >= 0 ? seq : null;
}

// falco.transmit.v1.PublishRequest, both halves of the contract: the sender writes one from alerts
// already encoded in the ring, without re-encoding them; the receiver reads one without decoding
// its alerts: it needs the producer, the sequence numbers and each alert's bytes. Alerts stay
// bytes until a sink wants fields, so a relay or a discarding load-test receiver never pays for
// decoding.

import { MAX_TIMESTAMP_SECONDS, MIN_TIMESTAMP_SECONDS } from './alert.js';
import { MalformedMessageError, Reader, varintSize, writeVarint } from './wire.js';

export { MalformedMessageError } from './wire.js';

export interface PublishEnvelope {
  producerId: string;
  firstSeq: number;
  /** Each alert's encoded falco.outputs.response, as a view into the request's bytes. */
  alerts: Buffer[];
  /** Each alert's priority (falco.schema.priority: 0 EMERGENCY ... 7 DEBUG), read while checking it. */
  priorities: number[];
}

/** Wire types of falco.outputs.response's fields 1-9 (time, priority, ... source). */
const RESPONSE_WIRE_TYPES = [-1, 2, 0, 0, 2, 2, 2, 2, 2, 2];

/**
 * Checks an alert's structure (known fields have the right wire type, lengths fit, the time and
 * the output_fields entries are well formed) and returns its priority, which --min-priority needs
 * without decoding the alert. Runs for every alert the receiver takes, so its messages are built
 * only when something is wrong. `index` (the alert's place in its request) prefixes the message; -1 for none.
 */
function checkAlert(buf: Buffer, start: number, end: number, index: number): number {
  const quick = quickCheck(buf, start, end);
  if (quick >= 0) return quick;
  const r = new Reader(buf, end);
  r.pos = start;
  try {
    let priority = 0; // proto3 default: EMERGENCY
    while (r.pos < end) {
      const tagAt = r.pos;
      const tag = r.varint('tag');
      const field = Math.floor(tag / 8);
      const wireType = tag & 7;
      if (field === 0) throw new MalformedMessageError(`field number 0 at byte ${tagAt}`);
      const expected = RESPONSE_WIRE_TYPES[field];
      if (expected !== undefined && wireType !== expected) {
        throw new MalformedMessageError(`field ${field} has wire type ${wireType}, expected ${expected}`);
      }
      if (field === 2) priority = r.varint('priority');
      else if (field === 1) checkTime(r);
      else if (field === 6) checkEntry(r);
      else r.skip(wireType, tagAt);
    }
    return priority;
  } catch (err) {
    throw err instanceof MalformedMessageError && index >= 0 ? new MalformedMessageError(`alerts[${index}]: ${err.message}`) : err;
  }
}

/**
 * Checks one encoded falco.outputs.response on its own (an alert read from the bus) as the
 * receiver checks each alert of a request, and returns its priority. Throws MalformedMessageError.
 */
export function checkEncodedAlert(bytes: Buffer): number {
  return checkAlert(bytes, 0, bytes.length, -1);
}

/**
 * checkAlert()'s checks for the shapes encoders write (tags of one or two bytes, output_fields
 * entries with one-byte lengths, a time of seconds and nanos), with no Reader, no message text and
 * no allocation: the priority, or -1 for anything else, which checkAlert() then reads and names
 * precisely. It accepts nothing that checkAlert() would refuse.
 */
function quickCheck(buf: Buffer, start: number, end: number): number {
  let pos = start;
  let priority = 0;
  while (pos < end) {
    let tag = buf[pos++]!;
    if (tag >= 0x80) {
      if (pos >= end) return -1;
      const high = buf[pos++]!;
      if (high >= 0x80) return -1;
      tag = (tag & 0x7f) + high * 128;
    }
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 0 || (field <= 9 && wireType !== RESPONSE_WIRE_TYPES[field])) return -1;
    if (wireType === 0) {
      // The same arithmetic as Reader.varint(), so the priority read is the same.
      let value = 0;
      let shift = 1;
      let b = 0x80;
      for (let i = 0; b >= 0x80; i++) {
        if (pos >= end || i === 10) return -1;
        b = buf[pos++]!;
        value += (b & 0x7f) * shift;
        shift *= 128;
      }
      if (field === 2) priority = value;
    } else if (wireType === 2) {
      if (pos >= end) return -1;
      let len = buf[pos++]!;
      if (len >= 0x80) {
        if (pos >= end) return -1;
        const b1 = buf[pos++]!;
        len = (len & 0x7f) + (b1 & 0x7f) * 128;
        if (b1 >= 0x80) {
          if (pos >= end) return -1;
          const b2 = buf[pos++]!;
          if (b2 >= 0x80) return -1;
          len += b2 * 16384;
        }
      }
      if (len > end - pos) return -1;
      const next = pos + len;
      if (field === 1) {
        if (!quickTime(buf, pos, next)) return -1;
      } else if (field === 6) {
        // 0x0a klen key 0x12 vlen value, one-byte lengths, filling the entry exactly.
        const kl = buf[pos + 1]!;
        if (buf[pos] !== 0x0a || kl >= 0x80 || pos + 2 + kl >= next || buf[pos + 2 + kl] !== 0x12) return -1;
        const vl = buf[pos + 3 + kl]!;
        if (vl >= 0x80 || pos + 4 + kl + vl !== next) return -1;
      }
      pos = next;
    } else if (wireType === 1 || wireType === 5) {
      pos += wireType === 1 ? 8 : 4;
      if (pos > end) return -1;
    } else {
      return -1;
    }
  }
  return priority;
}

/** A time of one-byte tags 0x08 seconds and 0x10 nanos within their ranges, as checkTime() wants it. */
function quickTime(buf: Buffer, pos: number, end: number): boolean {
  while (pos < end) {
    const tag = buf[pos++]!;
    if (tag !== 0x08 && tag !== 0x10) return false;
    let value = 0;
    let shift = 1;
    let b = 0x80;
    for (let i = 0; b >= 0x80; i++) {
      if (pos >= end || i === 10) return false;
      b = buf[pos++]!;
      value += (b & 0x7f) * shift;
      shift *= 128;
    }
    if (tag === 0x08 ? value > MAX_SECONDS && value < MIN_SECONDS_UNSIGNED : value > 999_999_999) return false;
  }
  return true;
}

/** Timestamp bounds as unsigned varints read into doubles (negative seconds are 10-byte two's complement). */
const MAX_SECONDS = Number(MAX_TIMESTAMP_SECONDS);
const MIN_SECONDS_UNSIGNED = 2 ** 64 + Number(MIN_TIMESTAMP_SECONDS);

/** Enters a submessage: returns its end, the reader positioned at its start. */
function enter(r: Reader, what: string): number {
  const at = r.pos;
  const len = r.varint(what);
  if (len > r.end - r.pos) throw new MalformedMessageError(`${what} at byte ${at} claims ${len} bytes, only ${r.end - r.pos} remain`);
  return r.pos + len;
}

/** The time submessage: seconds within Timestamp's range and nanos below a second, or no reader could print it. */
function checkTime(r: Reader): void {
  const end = enter(r, 'time');
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = r.varint('time tag');
    if (tag === 0x08) {
      const seconds = r.varint('time.seconds');
      if (seconds > MAX_SECONDS && seconds < MIN_SECONDS_UNSIGNED) {
        throw new MalformedMessageError(`time.seconds at byte ${tagAt} is outside 0001-01-01..9999-12-31`);
      }
    } else if (tag === 0x10) {
      if (r.varint('time.nanos') > 999_999_999) throw new MalformedMessageError(`time.nanos at byte ${tagAt} is not below one second`);
    } else {
      r.skip(tag & 7, tagAt);
    }
  }
  if (r.pos !== end) throw new MalformedMessageError(`time overruns its length at byte ${r.pos}`);
}

/** An output_fields entry: its key and value are strings whose lengths fit the entry. */
function checkEntry(r: Reader): void {
  const end = enter(r, 'output_fields entry');
  // The usual shape, as every encoder writes it: 0x0a klen key 0x12 vlen value, one-byte lengths.
  const buf = r.buf;
  const p = r.pos;
  const kl = buf[p + 1]!;
  if (buf[p] === 0x0a && kl < 0x80 && p + 2 + kl < end && buf[p + 2 + kl] === 0x12) {
    const vl = buf[p + 3 + kl]!;
    if (vl < 0x80 && p + 4 + kl + vl === end) {
      r.pos = end;
      return;
    }
  }
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = r.varint('output_fields entry tag');
    if (tag === 0x0a || tag === 0x12) {
      const len = r.varint('output_fields string length');
      if (len > end - r.pos) throw new MalformedMessageError(`output_fields string at byte ${tagAt} claims ${len} bytes, only ${end - r.pos} remain in its entry`);
      r.pos += len;
    } else {
      const field = Math.floor(tag / 8);
      if (field === 1 || field === 2) throw new MalformedMessageError(`output_fields entry at byte ${tagAt}: key and value must be strings`);
      r.skip(tag & 7, tagAt);
    }
  }
  if (r.pos !== end) throw new MalformedMessageError(`output_fields entry overruns its length at byte ${r.pos}`);
}

export function readPublishRequest(buf: Buffer): PublishEnvelope {
  const r = new Reader(buf, buf.length);
  let producerId = '';
  let firstSeq = 0;
  const alerts: Buffer[] = [];
  const priorities: number[] = [];
  while (r.pos < buf.length) {
    const tagAt = r.pos;
    const tag = r.varint('tag');
    switch (tag) {
      case 0x0a: {
        const [s, e] = r.bytes('producer_id');
        producerId = buf.toString('utf8', s, e);
        break;
      }
      case 0x10:
        firstSeq = r.varint('first_seq');
        break;
      case 0x1a: {
        // The length is read here, as Reader.varint() reads it (the sender pads it to fill the
        // ring's gap between records: see PublishRequestWriter); a bad one by Reader.bytes(),
        // whose message names the alert (built only then: this runs for every alert).
        let s = r.pos;
        let e = -1;
        let len = 0;
        let scale = 1;
        for (let i = 0; i < 10 && s < buf.length; i++) {
          const b = buf[s++]!;
          len += (b & 0x7f) * scale;
          scale *= 128;
          if (b < 0x80) {
            e = s + len;
            break;
          }
        }
        if (e < 0 || e > buf.length) [s, e] = r.bytes(`alerts[${alerts.length}]`);
        r.pos = e;
        priorities.push(checkAlert(buf, s, e, alerts.length));
        alerts.push(buf.subarray(s, e));
        break;
      }
      default: {
        const field = Math.floor(tag / 8);
        if (field === 0) throw new MalformedMessageError(`field number 0 at byte ${tagAt}`);
        if (field <= 3) throw new MalformedMessageError(`field ${field} has wire type ${tag & 7} at byte ${tagAt}`);
        r.skip(tag & 7, tagAt); // a field from a newer contract: ignored
      }
    }
  }
  if (producerId === '') throw new MalformedMessageError('producer_id is empty');
  if (alerts.length > 0 && firstSeq < 1) throw new MalformedMessageError('first_seq must be >= 1');
  return { producerId, firstSeq, alerts, priorities };
}

/**
 * Writes PublishRequest { producer_id = 1; first_seq = 2; repeated alerts = 3 } from alerts that
 * are already encoded: each becomes a field-3 entry, copied, never re-encoded. Reused per batch.
 * The alerts of one request may lie in different buffers (the ring, or a spool's read chunks).
 *
 * Alerts that lie a few bytes apart in one buffer (the ring keeps a 4-byte length and up to 3
 * bytes of padding between records) are copied as one piece, the bytes between them overwritten
 * with the next entry's tag and its length as a varint padded to fill them (protobuf readers take
 * varints of up to 10 bytes): one copy per run of records instead of one per alert, which was
 * about a third of the sender's time.
 */
export class PublishRequestWriter {
  private readonly producerId: Buffer;
  private readonly sources: (Uint8Array | undefined)[];
  private readonly offsets: Int32Array;
  private readonly lengths: Int32Array;
  /** 1 where an alert follows the previous one in the same buffer closely enough to be copied with it. */
  private readonly joined: Uint8Array;
  private count = 0;
  private alertsBytes = 0;

  constructor(producerId: string, maxAlerts: number) {
    this.producerId = Buffer.from(producerId, 'utf8');
    this.sources = new Array<Uint8Array | undefined>(maxAlerts);
    this.offsets = new Int32Array(maxAlerts);
    this.lengths = new Int32Array(maxAlerts);
    this.joined = new Uint8Array(maxAlerts);
  }

  /** Alerts added since the last finish(). */
  get alerts(): number {
    return this.count;
  }

  /** Bytes the alerts added since the last finish() take in the request. */
  get bytes(): number {
    return this.alertsBytes;
  }

  /** Adds the alert at data[offset, offset + length); `data` must not change before finish(). */
  add(data: Uint8Array, offset: number, length: number): void {
    const i = this.count;
    const gap = i > 0 && this.sources[i - 1] === data ? offset - this.offsets[i - 1]! - this.lengths[i - 1]! : -1;
    // The gap holds the tag and the length: a varint of 1 to 10 bytes, at least its own size.
    const joined = gap >= 2 && gap <= 11 && varintSize(length) <= gap - 1;
    this.joined[i] = joined ? 1 : 0;
    this.sources[i] = data;
    this.offsets[i] = offset;
    this.lengths[i] = length;
    this.alertsBytes += (joined ? gap : 1 + varintSize(length)) + length;
    this.count++;
  }

  /** Bytes the request of the alerts added so far takes, numbered from `firstSeq`. */
  size(firstSeq: number): number {
    const idLen = this.producerId.length;
    return 1 + varintSize(idLen) + idLen + 1 + varintSize(firstSeq) + this.alertsBytes;
  }

  /**
   * The request, with the alerts added since the last call copied in; they are numbered from
   * `firstSeq`. Written at the start of `into` when given (at least size() bytes) and returned
   * as a view of it, else into a new Buffer.
   */
  finish(firstSeq: number, into?: Buffer): Buffer {
    const idLen = this.producerId.length;
    const size = this.size(firstSeq);
    const out = into ? into.subarray(0, size) : Buffer.allocUnsafe(size);
    const { sources, offsets, lengths, joined, count } = this;
    let pos = 0;
    out[pos++] = 0x0a;
    pos = writeVarint(out, pos, idLen);
    pos += this.producerId.copy(out, pos);
    out[pos++] = 0x10;
    pos = writeVarint(out, pos, firstSeq);
    for (let i = 0; i < count; ) {
      let j = i + 1;
      while (j < count && joined[j] === 1) j++;
      out[pos++] = 0x1a;
      pos = writeVarint(out, pos, lengths[i]!);
      const from = offsets[i]!;
      const to = offsets[j - 1]! + lengths[j - 1]!;
      out.set(sources[i]!.subarray(from, to), pos);
      for (let k = i + 1; k < j; k++) {
        const at = pos + offsets[k - 1]! + lengths[k - 1]! - from; // where the gap before alert k starts
        out[at] = 0x1a;
        writePaddedVarint(out, at + 1, offsets[k]! - offsets[k - 1]! - lengths[k - 1]! - 1, lengths[k]!);
      }
      pos += to - from;
      i = j;
    }
    sources.fill(undefined, 0, count); // no read chunk kept alive past its request
    this.count = 0;
    this.alertsBytes = 0;
    return out;
  }
}

/** `value` as a varint of exactly `size` bytes (at least its own), the extra ones zero groups. */
function writePaddedVarint(out: Uint8Array, pos: number, size: number, value: number): void {
  for (let i = 0; i < size - 1; i++) {
    out[pos + i] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[pos + size - 1] = value;
}

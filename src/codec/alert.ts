// Falco's alert as a host hands it to emit(), and its protobuf encoding (falco.outputs.response).
//
// The encoder runs on the host's main thread for every alert, so it writes protobuf bytes
// straight into one reusable scratch buffer: no intermediate objects, no per-alert allocation
// beyond what string conversion of non-string field values needs.

import { hostname as osHostname } from 'node:os';
import { varintSize, writeVarint } from './wire.js';

/** A value of `output_fields`; non-strings are stringified as JSON writes them. */
export type OutputFieldValue = string | number | bigint | boolean | null;

/** When an alert happened; nanoseconds survive in every form but Date. */
export type AlertTime = Date | string | bigint | { seconds: number | bigint; nanos: number };

/** Falco's alert shape, as accepted by emit(). */
export interface AlertInput {
  /** Rule name. Required. */
  rule: string;
  /** Falco priority name (case-insensitive, "info" accepted) or its enum number 0-7. Required. */
  priority: string | number;
  /** Default: now. RFC 3339 strings may carry nanoseconds; bigint is nanoseconds since the epoch. */
  time?: AlertTime;
  output?: string;
  /** Event source name: "syscall", "k8s_audit", "internal" or a plugin's source. Default "syscall". */
  source?: string;
  /** Default: this machine's hostname. */
  hostname?: string;
  tags?: readonly string[];
  output_fields?: Readonly<Record<string, OutputFieldValue>>;
}

/** Falco's priority names in enum order (EMERGENCY = 0 ... DEBUG = 7). */
export const PRIORITY_NAMES = [
  'Emergency',
  'Alert',
  'Critical',
  'Error',
  'Warning',
  'Notice',
  'Informational',
  'Debug',
] as const;

const PRIORITY_BY_NAME = new Map<string, number>();
PRIORITY_NAMES.forEach((name, value) => {
  PRIORITY_BY_NAME.set(name, value);
  PRIORITY_BY_NAME.set(name.toLowerCase(), value);
  PRIORITY_BY_NAME.set(name.toUpperCase(), value);
});
PRIORITY_BY_NAME.set('info', 6);

/** Falco's priority number for a name (case-insensitive, "info" accepted), or undefined. */
export function priorityFromName(name: string): number | undefined {
  return PRIORITY_BY_NAME.get(name) ?? PRIORITY_BY_NAME.get(name.toLowerCase());
}

/** falco.schema.source as Falco filled `source_deprecated`: unknown names are plugins. */
export function sourceEnumFor(source: string): number {
  switch (source) {
    case 'syscall':
      return 0;
    case 'k8s_audit':
      return 1;
    case 'internal':
      return 2;
    default:
      return 3;
  }
}

/** Falco's marker for a field without a value; `null` travels as this and comes back as null. */
export const NO_VALUE = '<NA>';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const NANOS_PER_SECOND = 1_000_000_000n;
const MAX_SAFE_SECONDS = BigInt(Number.MAX_SAFE_INTEGER);
/** google.protobuf.Timestamp's valid range, in seconds. */
export const MIN_TIMESTAMP_SECONDS = -62135596800n;
export const MAX_TIMESTAMP_SECONDS = 253402300799n;
const MIN_TIMESTAMP_SECONDS_N = Number(MIN_TIMESTAMP_SECONDS);
const MAX_TIMESTAMP_SECONDS_N = Number(MAX_TIMESTAMP_SECONDS);
const DEFAULT_HOSTNAME = osHostname();

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Whether an RFC3339 match names a real date and time: Date.UTC would roll 2025-02-30 over to March 2. */
function inRange(m: RegExpExecArray): boolean {
  const year = +m[1]!;
  const month = +m[2]!;
  const day = +m[3]!;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
  return (
    days !== undefined && day >= 1 && day <= days && +m[4]! <= 23 && +m[5]! <= 59 && +m[6]! <= 60 &&
    (m[9] === undefined || (+m[10]! <= 23 && +m[11]! <= 59))
  );
}

/** Thrown by the encoder when an alert does not fit its byte limit. */
export class AlertTooLargeError extends Error {}

function invalid(field: string, expected: string, got: unknown): never {
  const what = got === null ? 'null' : Array.isArray(got) ? 'array' : typeof got;
  throw new TypeError(`invalid alert: ${field} must be ${expected}, got ${what}`);
}

/** Node's Buffer has a fast UTF-8 writer that @types/node does not declare. */
export type Utf8Buffer = Buffer & { utf8Write(text: string, offset: number): number };

/**
 * Encodes alerts as falco.outputs.response bytes, into its own scratch buffer (encode():
 * the bytes are scratch[0, length) until the next call) or in place into a caller's buffer
 * (encodeInto(), how emit() writes straight into the ring).
 */
export class AlertEncoder {
  readonly scratch: Utf8Buffer;
  /** The buffer being written and the offset past which it must not write. */
  private buf: Utf8Buffer;
  private limit = 0;
  private window = 0;
  private pos = 0;
  // Time is decoded into these to avoid returning an object per alert.
  private seconds = 0;
  private nanos = 0;
  private bigSeconds: bigint | null = null;

  /** maxBytes: the largest encoded alert accepted; larger ones throw AlertTooLargeError. */
  constructor(readonly maxBytes: number) {
    this.scratch = Buffer.allocUnsafe(maxBytes + 16) as Utf8Buffer;
    this.buf = this.scratch;
  }

  /** Validates and encodes into scratch; throws TypeError naming the field, or AlertTooLargeError. */
  encode(alert: AlertInput): number {
    return this.encodeInto(alert, this.scratch, 0, this.maxBytes);
  }

  /**
   * Validates and encodes into out[start, start + window); returns the byte length. Throws a
   * TypeError naming the field, or AlertTooLargeError when it needs more than `window` bytes.
   */
  encodeInto(alert: AlertInput, out: Utf8Buffer, start: number, window: number): number {
    if (typeof alert !== 'object' || alert === null) invalid('alert', 'an object', alert);
    const { rule, output, source, hostname, tags, output_fields: fields } = alert;
    // Validate everything before writing, so a bad alert costs nothing downstream.
    if (typeof rule !== 'string') invalid('rule', 'a string', rule);
    const priority = this.priorityOf(alert.priority);
    if (output !== undefined && typeof output !== 'string') invalid('output', 'a string', output);
    if (source !== undefined && typeof source !== 'string') invalid('source', 'a string', source);
    if (hostname !== undefined && typeof hostname !== 'string') invalid('hostname', 'a string', hostname);
    if (tags !== undefined && !Array.isArray(tags)) invalid('tags', 'an array of strings', tags);
    if (fields !== undefined && (typeof fields !== 'object' || fields === null || Array.isArray(fields))) {
      invalid('output_fields', 'an object', fields);
    }
    this.timeOf(alert.time);
    const src = source ?? 'syscall';

    this.buf = out;
    this.pos = start;
    this.limit = start + window;
    this.window = window;
    this.writeTime();
    if (priority !== 0) this.writeVarintField(0x10, priority);
    const srcEnum = sourceEnumFor(src);
    if (srcEnum !== 0) this.writeVarintField(0x18, srcEnum);
    this.writeStringField(0x22, rule);
    if (output) this.writeStringField(0x2a, output);
    let literals = 0;
    if (fields !== undefined) {
      let index = 0;
      for (const key in fields) {
        const value = fields[key];
        this.writeMapEntry(key, this.fieldValue(key, value));
        if (index < MAX_LITERAL_ENTRIES && isJsonLiteral(value)) literals += 2 ** index;
        index++;
      }
    }
    this.writeStringField(0x3a, hostname ?? DEFAULT_HOSTNAME);
    if (tags !== undefined) {
      for (let i = 0; i < tags.length; i++) {
        const tag = tags[i];
        if (typeof tag !== 'string') invalid(`tags[${i}]`, 'a string', tag);
        this.writeStringField(0x42, tag);
      }
    }
    this.writeStringField(0x4a, src);
    if (literals !== 0) {
      this.ensureRoom(2 + 8);
      this.buf[this.pos++] = JSON_LITERALS_TAG[0]!;
      this.buf[this.pos++] = JSON_LITERALS_TAG[1]!;
      this.writeVarint(literals);
    }
    return this.pos - start;
  }

  private priorityOf(value: unknown): number {
    if (typeof value === 'string') {
      const p = priorityFromName(value);
      if (p !== undefined) return p;
      throw new TypeError(`invalid alert: priority "${value}" is not a Falco priority (${PRIORITY_NAMES.join(', ')})`);
    }
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 7) return value;
    return invalid('priority', 'a Falco priority name or a number 0-7', value);
  }

  private fieldValue(key: string, value: unknown): string {
    switch (typeof value) {
      case 'string':
        return value;
      case 'number':
        return Number.isFinite(value) ? String(value) : NO_VALUE;
      case 'bigint':
      case 'boolean':
        return String(value);
      default:
        if (value === null) return NO_VALUE;
        return invalid(`output_fields["${key}"]`, 'a string, number, bigint, boolean or null', value);
    }
  }

  private timeOf(time: unknown): void {
    this.bigSeconds = null;
    if (time === undefined) {
      const ms = Date.now();
      this.seconds = Math.floor(ms / 1000);
      this.nanos = (ms % 1000) * 1_000_000;
    } else if (typeof time === 'bigint') {
      let s = time / NANOS_PER_SECOND;
      let ns = time % NANOS_PER_SECOND;
      if (ns < 0n) {
        ns += NANOS_PER_SECOND;
        s -= 1n;
      }
      this.setSeconds(s);
      this.nanos = Number(ns);
    } else if (typeof time === 'string') {
      this.parseRfc3339(time);
    } else if (time instanceof Date) {
      const ms = time.getTime();
      if (Number.isNaN(ms)) invalid('time', 'a valid Date', 'Invalid Date');
      this.seconds = Math.floor(ms / 1000);
      this.nanos = (ms - this.seconds * 1000) * 1_000_000;
    } else if (typeof time === 'object' && time !== null && 'seconds' in time && 'nanos' in time) {
      const { seconds, nanos } = time as { seconds: unknown; nanos: unknown };
      if (typeof nanos !== 'number' || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
        invalid('time.nanos', 'an integer 0-999999999', nanos);
      }
      if (typeof seconds === 'bigint') this.setSeconds(seconds);
      else if (typeof seconds === 'number' && Number.isSafeInteger(seconds)) this.seconds = seconds;
      else invalid('time.seconds', 'an integer', seconds);
      this.nanos = nanos;
    } else {
      invalid('time', 'a Date, an RFC 3339 string, bigint nanoseconds or {seconds, nanos}', time);
    }
    // google.protobuf.Timestamp's range: beyond it no reader can print the time (Falco's JSON included).
    const outside =
      this.bigSeconds === null
        ? this.seconds < MIN_TIMESTAMP_SECONDS_N || this.seconds > MAX_TIMESTAMP_SECONDS_N
        : this.bigSeconds < MIN_TIMESTAMP_SECONDS || this.bigSeconds > MAX_TIMESTAMP_SECONDS;
    if (outside) {
      throw new TypeError(`invalid alert: time is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z (${this.bigSeconds ?? this.seconds} seconds)`);
    }
  }

  private setSeconds(s: bigint): void {
    if (s >= 0n && s <= MAX_SAFE_SECONDS) this.seconds = Number(s);
    else this.bigSeconds = s;
  }

  private parseRfc3339(text: string): void {
    const m = RFC3339.exec(text);
    if (m === null || !inRange(m)) {
      throw new TypeError(`invalid alert: time "${text}" is not RFC 3339 (e.g. 2025-11-27T05:00:00.000000970Z)`);
    }
    // Date.UTC reads years 0-99 as 1900-1999; 400 Gregorian years are exactly 146097 days.
    const ms = Date.UTC(+m[1]! + 400, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) - 146_097 * 86_400_000;
    let seconds = ms / 1000;
    if (m[9] !== undefined) {
      const offset = (+m[10]! * 60 + +m[11]!) * 60;
      seconds += m[9] === '+' ? -offset : offset;
    }
    this.seconds = seconds;
    this.nanos = m[7] === undefined ? 0 : +(m[7] + '00000000').slice(0, 9);
  }

  private writeTime(): void {
    // google.protobuf.Timestamp { int64 seconds = 1; int32 nanos = 2; } as field 1.
    const buf = this.buf;
    buf[this.pos++] = 0x0a;
    const lenAt = this.pos++;
    const start = this.pos;
    if (this.bigSeconds !== null) {
      buf[this.pos++] = 0x08;
      this.writeVarint64(this.bigSeconds);
    } else if (this.seconds !== 0) {
      buf[this.pos++] = 0x08;
      if (this.seconds < 0) this.writeVarint64(BigInt(this.seconds));
      else this.writeVarint(this.seconds);
    }
    if (this.nanos !== 0) {
      buf[this.pos++] = 0x10;
      this.writeVarint(this.nanos);
    }
    buf[lenAt] = this.pos - start; // at most 1 + 10 + 1 + 5 bytes: fits one length byte
  }

  private writeVarintField(tag: number, value: number): void {
    this.buf[this.pos++] = tag;
    this.writeVarint(value);
  }

  private writeVarint(value: number): void {
    this.pos = writeVarint(this.buf, this.pos, value);
  }

  private writeVarint64(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  /** Throws when `extra` more bytes would take the alert past its window. */
  private ensureRoom(extra: number): void {
    if (this.pos + extra > this.limit) {
      throw new AlertTooLargeError(`alert encodes to more than ${this.window} bytes`);
    }
  }

  private writeStringField(tag: number, text: string): void {
    const buf = this.buf;
    // A UTF-16 unit becomes at most 3 UTF-8 bytes; short strings get a 1-byte length
    // without measuring them first.
    if (text.length < 43 && this.pos + 2 + text.length * 3 <= this.limit) {
      buf[this.pos] = tag;
      const n = this.writeText(text, this.pos + 2);
      buf[this.pos + 1] = n;
      this.pos += 2 + n;
      return;
    }
    const n = Buffer.byteLength(text, 'utf8');
    this.ensureRoom(1 + varintSize(n) + n);
    buf[this.pos++] = tag;
    this.writeVarint(n);
    this.pos += buf.utf8Write(text, this.pos);
  }

  /**
   * Writes UTF-8 at `at`, returns the byte count. Short ASCII is copied by a plain loop:
   * crossing into Buffer's native writer costs ~100 ns a call, more than the copy itself.
   */
  private writeText(text: string, at: number): number {
    const n = text.length;
    if (n <= 64) {
      const buf = this.buf;
      let i = 0;
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === n) return n;
    }
    return this.buf.utf8Write(text, at);
  }

  private writeMapEntry(key: string, value: string): void {
    const buf = this.buf;
    if (key.length + value.length < 40 && this.pos + 6 + (key.length + value.length) * 3 <= this.limit) {
      // Entry: 0x32 len { 0x0a klen key 0x12 vlen value }, all lengths one byte.
      buf[this.pos] = 0x32;
      const start = this.pos + 2;
      buf[start] = 0x0a;
      const kn = this.writeText(key, start + 2);
      buf[start + 1] = kn;
      const vAt = start + 2 + kn;
      buf[vAt] = 0x12;
      const vn = this.writeText(value, vAt + 2);
      buf[vAt + 1] = vn;
      buf[this.pos + 1] = 4 + kn + vn;
      this.pos = vAt + 2 + vn;
      return;
    }
    const kn = Buffer.byteLength(key, 'utf8');
    const vn = Buffer.byteLength(value, 'utf8');
    const entryLen = 1 + varintSize(kn) + kn + 1 + varintSize(vn) + vn;
    this.ensureRoom(1 + varintSize(entryLen) + entryLen);
    buf[this.pos++] = 0x32;
    this.writeVarint(entryLen);
    buf[this.pos++] = 0x0a;
    this.writeVarint(kn);
    this.pos += buf.utf8Write(key, this.pos);
    buf[this.pos++] = 0x12;
    this.writeVarint(vn);
    this.pos += buf.utf8Write(value, this.pos);
  }
}

/**
 * Field 1000 of falco.outputs.response, this project's own and absent from Falco's proto: a
 * varint whose bit i says that the i-th output_fields entry was a JSON number or boolean, so a
 * JSON output writes it back unquoted as Falco does (the map carries only strings). Clients
 * built from Falco's proto skip it as an unknown field. Entries past the 53rd stay strings.
 */
export const JSON_LITERALS_FIELD = 1000;
const JSON_LITERALS_TAG = [0xc0, 0x3e]; // (1000 << 3) | 0 as a varint
const MAX_LITERAL_ENTRIES = 53;

function isJsonLiteral(value: unknown): boolean {
  return (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint' || typeof value === 'boolean';
}

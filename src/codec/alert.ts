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

const NANOS_PER_SECOND = 1_000_000_000n;
const MAX_SAFE_SECONDS = BigInt(Number.MAX_SAFE_INTEGER);
/** google.protobuf.Timestamp's valid range, in seconds. */
export const MIN_TIMESTAMP_SECONDS = -62135596800n;
export const MAX_TIMESTAMP_SECONDS = 253402300799n;
const MIN_TIMESTAMP_SECONDS_N = Number(MIN_TIMESTAMP_SECONDS);
const MAX_TIMESTAMP_SECONDS_N = Number(MAX_TIMESTAMP_SECONDS);
const DEFAULT_HOSTNAME = osHostname();

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The decimal value of text[from, from + count), or -1 unless all of them are ASCII digits. */
function digits(text: string, from: number, count: number): number {
  let value = 0;
  for (let i = from; i < from + count; i++) {
    const d = text.charCodeAt(i) - 0x30; // NaN past the end
    if (!(d >= 0 && d <= 9)) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
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
  /** The date and time of day of the last RFC 3339 time read (19 characters), and its seconds. */
  private lastTimePrefix = '\u0000';
  private lastTimeBase = 0;
  /** `buf` as a DataView, for writing cached strings a 32-bit word at a time. */
  private view: DataView;
  private readonly cache = new TextCache();

  /** maxBytes: the largest encoded alert accepted; larger ones throw AlertTooLargeError. */
  constructor(readonly maxBytes: number) {
    this.scratch = Buffer.allocUnsafe(maxBytes + 16) as Utf8Buffer;
    this.buf = this.scratch;
    this.view = new DataView(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength);
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

    if (out !== this.buf) {
      this.buf = out;
      this.view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    }
    this.pos = start;
    this.limit = start + window;
    this.window = window;
    this.writeTime();
    if (priority !== 0) this.writeVarintField(0x10, priority);
    const srcEnum = sourceEnumFor(src);
    if (srcEnum !== 0) this.writeVarintField(0x18, srcEnum);
    this.pos = this.writeRecurring(0x22, rule, this.pos);
    if (output) this.writeStringField(0x2a, output);
    let literals = 0;
    if (fields !== undefined) {
      let bit = 1; // 2 ** (index of the entry)
      for (const key in fields) {
        const value = fields[key];
        if (typeof value === 'string') {
          this.writeMapEntry(key, value);
        } else {
          this.writeMapEntry(key, this.fieldValue(key, value));
          if (bit <= MAX_LITERAL_BIT && isJsonLiteral(value)) literals += bit;
        }
        bit *= 2;
      }
    }
    this.pos = this.writeRecurring(0x3a, hostname ?? DEFAULT_HOSTNAME, this.pos);
    if (tags !== undefined) {
      for (let i = 0; i < tags.length; i++) {
        const tag = tags[i];
        if (typeof tag !== 'string') invalid(`tags[${i}]`, 'a string', tag);
        this.pos = this.writeRecurring(0x42, tag, this.pos);
      }
    }
    this.pos = this.writeRecurring(0x4a, src, this.pos);
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

  /**
   * YYYY-MM-DD[Tt ]hh:mm:ss[.1-9 digits](Z|z|+hh:mm|-hh:mm), read by hand: a regular
   * expression and Date.UTC were a quarter of emit() for alerts carrying Falco's time string.
   */
  private parseRfc3339(text: string): void {
    const n = text.length;
    // Alerts come in runs within one second: the date and time of day are read once per second.
    let base = this.lastTimeBase;
    let ok = n >= 20 && text.startsWith(this.lastTimePrefix);
    if (!ok) {
      const year = digits(text, 0, 4);
      const month = digits(text, 5, 2);
      const day = digits(text, 8, 2);
      const hour = digits(text, 11, 2);
      const minute = digits(text, 14, 2);
      const second = digits(text, 17, 2);
      const sep = text.charCodeAt(10);
      ok =
        n >= 20 && year >= 0 && text.charCodeAt(4) === 0x2d && text.charCodeAt(7) === 0x2d &&
        (sep === 0x54 || sep === 0x74 || sep === 0x20) && text.charCodeAt(13) === 0x3a && text.charCodeAt(16) === 0x3a &&
        month >= 1 && month <= 12 && day >= 1 && hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 60;
      if (ok) {
        const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
        ok = day <= (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!);
      }
      if (ok) {
        // A leap second (:60) rolls over into the next minute, as Date.UTC does.
        base = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
        this.lastTimePrefix = text.slice(0, 19);
        this.lastTimeBase = base;
      }
    }
    let pos = 19;
    let nanos = 0;
    if (ok && text.charCodeAt(pos) === 0x2e) {
      const from = ++pos;
      while (pos < n && pos - from < 10) {
        const d = text.charCodeAt(pos) - 0x30;
        if (!(d >= 0 && d <= 9)) break;
        nanos = nanos * 10 + d;
        pos++;
      }
      const count = pos - from;
      ok = count >= 1 && count <= 9;
      nanos *= 10 ** (9 - count);
    }
    let offset = 0;
    if (ok) {
      const zone = text.charCodeAt(pos);
      if (zone === 0x5a || zone === 0x7a) {
        ok = pos + 1 === n;
      } else if (zone === 0x2b || zone === 0x2d) {
        const oh = digits(text, pos + 1, 2);
        const om = digits(text, pos + 4, 2);
        ok = pos + 6 === n && text.charCodeAt(pos + 3) === 0x3a && oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
        offset = (oh * 60 + om) * 60 * (zone === 0x2b ? 1 : -1);
      } else {
        ok = false;
      }
    }
    if (!ok) {
      throw new TypeError(`invalid alert: time "${text}" is not RFC 3339 (e.g. 2025-11-27T05:00:00.000000970Z)`);
    }
    this.seconds = base - offset;
    this.nanos = nanos;
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
    this.pos = this.writeString(tag, text, this.pos);
  }

  /**
   * Writes `tag`, the UTF-8 byte length as a varint and the bytes at `at`; returns where they end.
   * The length's size is known from the UTF-16 unit count (each becomes 1 to 3 bytes) for
   * strings below 43 units, guessed otherwise and the bytes moved in the rare case the guess was
   * wrong: measuring first (Buffer.byteLength) would cost a second pass over the string.
   */
  private writeString(tag: number, text: string, at: number): number {
    const buf = this.buf;
    const units = text.length;
    if (units < 43 && at + 2 + units * 3 <= this.limit) {
      buf[at] = tag;
      const n = units <= SHORT_TEXT ? this.writeText(text, at + 2) : buf.utf8Write(text, at + 2);
      buf[at + 1] = n;
      return at + 2 + n;
    }
    if (units < MID_TEXT && at + 3 + units * 3 <= this.limit) {
      // 43 units or more (at least 43 bytes) and at most 16383 bytes: a 1- or 2-byte length.
      buf[at] = tag;
      const guess = units < 128 ? 1 : 2;
      const n = buf.utf8Write(text, at + 1 + guess);
      const size = n < 128 ? 1 : 2;
      if (size !== guess) buf.copyWithin(at + 1 + size, at + 1 + guess, at + 1 + guess + n);
      return this.putLength(at + 1, n, size) + n;
    }
    const n = Buffer.byteLength(text, 'utf8');
    this.pos = at;
    this.ensureRoom(1 + varintSize(n) + n);
    buf[at] = tag;
    this.pos = at + 1;
    this.writeVarint(n);
    return this.pos + buf.utf8Write(text, this.pos);
  }

  /**
   * writeString() for strings that recur from alert to alert (output_fields keys, rule names,
   * hostnames, tags, sources): their UTF-8 comes from the cache, a few word stores instead of a
   * store per character.
   */
  private writeRecurring(tag: number, text: string, at: number): number {
    const units = text.length;
    if (units < CACHED_MIN_UNITS || units > CACHED_MAX_UNITS) return this.writeString(tag, text, at);
    const words = this.cache.get(text);
    if (words === undefined) {
      const end = this.writeString(tag, text, at);
      this.cache.add(text, this.buf, at + 2, end - at - 2);
      return end;
    }
    const n = words[0]!;
    // Word stores may write up to 3 bytes past the string: they must still be inside the window.
    if (at + 2 + n + 3 > this.limit) return this.writeString(tag, text, at);
    this.buf[at] = tag;
    this.buf[at + 1] = n;
    const view = this.view;
    for (let i = 1, o = at + 2; i < words.length; i++, o += 4) view.setInt32(o, words[i]!, true);
    return at + 2 + n;
  }

  /** Writes `length` (< 16384) as a varint of exactly `size` (1 or 2) bytes at `at`; returns the end. */
  private putLength(at: number, length: number, size: number): number {
    if (size === 1) {
      this.buf[at] = length;
      return at + 1;
    }
    this.buf[at] = (length & 0x7f) | 0x80;
    this.buf[at + 1] = length >>> 7;
    return at + 2;
  }

  /**
   * Writes UTF-8 at `at`, returns the byte count. Short ASCII is copied by a plain loop:
   * crossing into Buffer's native writer costs ~60 ns a call, more than copying ~30 characters.
   */
  private writeText(text: string, at: number): number {
    const buf = this.buf;
    const n = text.length;
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) return buf.utf8Write(text, at);
      buf[at + i] = c;
    }
    return n;
  }

  /** Entry: 0x32 len { 0x0a klen key 0x12 vlen value }; the entry length is sized as writeString() sizes its own. */
  private writeMapEntry(key: string, value: string): void {
    const at = this.pos;
    // The most the entry can take: each unit 3 bytes, each inner length 2 bytes.
    const most = (key.length + value.length) * 3 + 6;
    if (most < 16384 && key.length < MID_TEXT && value.length < MID_TEXT && at + 3 + most <= this.limit) {
      // Guessed as if ASCII, which nearly every key and value is; a wrong guess moves the bytes.
      const guess = key.length + value.length + 4 < 128 ? 1 : 2;
      const from = at + 1 + guess;
      const end = this.writeString(0x12, value, this.writeRecurring(0x0a, key, from));
      const n = end - from;
      const size = n < 128 ? 1 : 2;
      if (size !== guess) this.buf.copyWithin(at + 1 + size, from, end);
      this.buf[at] = 0x32;
      this.pos = this.putLength(at + 1, n, size) + n;
      return;
    }
    const buf = this.buf;
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

/** Strings this long or longer recur too rarely to be worth caching (and keep 1-byte lengths). */
const CACHED_MAX_UNITS = 42;
/** Shorter strings are copied as fast by writeText's loop as from the cache. */
const CACHED_MIN_UNITS = 8;
/** The most strings the cache holds; full, it starts over. */
const CACHE_ENTRIES = 2048;

/**
 * UTF-8 of recurring short strings, each as [byte length, then the bytes as little-endian
 * 32-bit words]. Bounded whatever the input: at most CACHE_ENTRIES strings of at most
 * CACHED_MAX_UNITS units (~250 KB); when full it is emptied and refills with what recurs now,
 * so alerts that never repeat a name cost a little time, never memory.
 */
class TextCache {
  private readonly map = new Map<string, Int32Array>();

  get(text: string): Int32Array | undefined {
    return this.map.get(text);
  }

  /** Remembers `text` as the `length` bytes at bytes[at] (just written there). */
  add(text: string, bytes: Uint8Array, at: number, length: number): void {
    if (this.map.size >= CACHE_ENTRIES) this.map.clear();
    const words = new Int32Array(1 + ((length + 3) >> 2));
    words[0] = length;
    for (let i = 0; i < length; i++) words[1 + (i >> 2)]! |= bytes[at + i]! << ((i & 3) * 8);
    this.map.set(text, words);
  }
}

/** Strings up to this many units are copied by writeText's loop; longer ones by Buffer's native writer. */
const SHORT_TEXT = 32;
/** Below this many units a string's UTF-8 takes at most 16383 bytes: a length of 1 or 2 bytes. */
const MID_TEXT = 5461;

/**
 * Field 1000 of falco.outputs.response, this project's own and absent from Falco's proto: a
 * varint whose bit i says that the i-th output_fields entry was a JSON number or boolean, so a
 * JSON output writes it back unquoted as Falco does (the map carries only strings). Clients
 * built from Falco's proto skip it as an unknown field. Entries past the 53rd stay strings.
 */
export const JSON_LITERALS_FIELD = 1000;
const JSON_LITERALS_TAG = [0xc0, 0x3e]; // (1000 << 3) | 0 as a varint
const MAX_LITERAL_BIT = 2 ** 52; // entries past the 53rd stay strings

function isJsonLiteral(value: unknown): boolean {
  return (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint' || typeof value === 'boolean';
}

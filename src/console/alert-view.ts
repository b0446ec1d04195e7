// One alert as the console page gets it, and the two fields the console counts for every alert.
// output_fields travel as the strings they are on the wire (a 64-bit evt.time stays exact in a
// browser, which would round it as a JSON number), as [key, value] pairs in the alert's order.

import { decodeAlert } from '../receiver/sinks.js';
import { formatTime } from '../codec/falco-json.js';
import { MalformedMessageError, Reader } from '../codec/wire.js';

export interface ConsoleAlert {
  /** The alert's number: the n-th alert this receiver accepted. */
  n: number;
  /** RFC 3339 UTC with nanoseconds. */
  time: string;
  /** Falco's priority number: 0 Emergency ... 7 Debug. */
  priority: number;
  rule: string;
  hostname: string;
  source: string;
  tags: string[];
  output: string;
  fields: Array<[string, string]>;
}

export function toConsoleAlert(bytes: Buffer, n: number): ConsoleAlert {
  try {
    const a = decodeAlert(bytes);
    const time = a.time ? formatTime(a.time.seconds, a.time.nanos) : formatTime(0n, 0);
    return { n, time, priority: a.priority, rule: a.rule, hostname: a.hostname, source: a.source, tags: a.tags, output: a.output, fields: Object.entries(a.outputFields) };
  } catch (err) {
    // The receiver checked the bytes' structure; whatever still fails is shown, not hidden.
    const why = `(alert #${n} could not be decoded: ${(err as Error).message})`;
    return { n, time: formatTime(0n, 0), priority: 7, rule: why, hostname: '', source: '', tags: [], output: why, fields: [] };
  }
}

/** One rule's count, found by a hash of its name's bytes: counting an alert creates no string. */
interface RuleCount {
  bytes: Buffer;
  rule: string;
  count: number;
  /** Another rule whose name hashes alike. */
  next: RuleCount | null;
}

export const OTHER_RULES = '(other rules)';

/**
 * Counts alerts by priority and by rule, from their bytes. The usual encoding (fields in number
 * order, one-byte lengths, as every encoder writes a short rule name) is read in place, without
 * allocating; anything else takes the general protobuf reader.
 */
export class AlertCounter {
  readonly byPriority = new Array<number>(8).fill(0);
  private readonly rules = new Map<number, RuleCount>();
  private distinct = 0;
  private readonly other: RuleCount = { bytes: Buffer.alloc(0), rule: OTHER_RULES, count: 0, next: null };

  constructor(private readonly maxRules: number) {}

  add(b: Buffer): void {
    let pos = 0;
    let priority = 0; // proto3 default: Emergency
    while (pos + 1 < b.length) {
      const tag = b[pos]!;
      const value = b[pos + 1]!;
      if (value >= 0x80) break; // a multi-byte length or number
      if (tag === 0x0a || tag === 0x18) pos += tag === 0x0a ? 2 + value : 2; // time, source enum
      else if (tag === 0x10) {
        priority = value;
        pos += 2;
      } else if (tag === 0x22) {
        if (pos + 2 + value > b.length) break;
        this.count(priority, b, pos + 2, pos + 2 + value);
        return;
      } else break;
    }
    const slow = { priority: 0, rule: '' };
    readPriorityAndRule(b, slow);
    const bytes = Buffer.from(slow.rule);
    this.count(slow.priority, bytes, 0, bytes.length);
  }

  /** The `limit` rules with the most alerts, most first. */
  top(limit: number): Array<[string, number]> {
    const all: RuleCount[] = this.other.count > 0 ? [this.other] : [];
    for (let entry of this.rules.values()) for (; entry; entry = entry.next!) all.push(entry);
    return all.sort((x, y) => y.count - x.count).slice(0, limit).map((r) => [r.rule, r.count]);
  }

  /** Distinct rules counted one by one. */
  get size(): number {
    return this.distinct;
  }

  private count(priority: number, b: Buffer, start: number, end: number): void {
    if (priority < 8) this.byPriority[priority]!++;
    const hash = sampledHash(b, start, end);
    const first = this.rules.get(hash);
    for (let entry = first; entry; entry = entry.next!) {
      if (sameBytes(entry.bytes, b, start, end)) {
        entry.count++;
        return;
      }
    }
    if (this.distinct >= this.maxRules) {
      this.other.count++;
      return;
    }
    const bytes = Buffer.from(b.subarray(start, end)); // a copy: b is a view into its request
    this.rules.set(hash, { bytes, rule: bytes.toString('utf8'), count: 1, next: first ?? null });
    this.distinct++;
  }
}

/**
 * FNV-1a over the length and nine of the bytes (the first four, the last four, the middle one):
 * hashing every byte of every alert's rule would cost as much as the comparison that settles it.
 */
function sampledHash(b: Buffer, start: number, end: number): number {
  const n = end - start;
  let h = Math.imul(0x811c9dc5 ^ n, 0x01000193);
  if (n === 0) return h;
  for (let i = 0; i < 4; i++) {
    h = Math.imul(h ^ b[start + (i % n)]!, 0x01000193);
    h = Math.imul(h ^ b[end - 1 - (i % n)]!, 0x01000193);
  }
  return Math.imul(h ^ b[start + (n >> 1)]!, 0x01000193);
}

function sameBytes(known: Buffer, b: Buffer, start: number, end: number): boolean {
  if (known.length !== end - start) return false;
  for (let i = 0; i < known.length; i++) if (known[i] !== b[start + i]) return false;
  return true;
}

/** Priority and rule of an alert, read without decoding the rest. */
interface Counted {
  priority: number;
  rule: string;
}

/** Reads fields 2 (priority) and 4 (rule) and stops: encoders write the fields in number order. */
function readPriorityAndRule(bytes: Buffer, into: Counted): void {
  const r = new Reader(bytes, bytes.length);
  try {
    while (r.pos < bytes.length) {
      const tagAt = r.pos;
      const tag = r.varint('tag');
      if (tag === 0x10) into.priority = r.varint('priority');
      else if (tag === 0x22) {
        const [s, e] = r.bytes('rule');
        into.rule = bytes.toString('utf8', s, e);
        return;
      } else r.skip(tag & 7, tagAt);
    }
  } catch (err) {
    if (!(err instanceof MalformedMessageError)) throw err;
    into.rule = '(malformed alert)';
  }
}

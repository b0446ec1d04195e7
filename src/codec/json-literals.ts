// Which output_fields of an encoded alert were JSON numbers or booleans (field 1000, see
// JSON_LITERALS_FIELD in alert.ts), so a JSON writer can print them unquoted, as Falco does.

import { JSON_LITERALS_FIELD } from './alert.js';
import { Reader } from './wire.js';

const OUTPUT_FIELDS = 6;

/** The keys to write unquoted, or null when the alert marks none (or its bytes do not parse). */
export function jsonLiteralKeys(bytes: Uint8Array): ReadonlySet<string> | null {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new Reader(buf, buf.length);
  const keys: string[] = [];
  let mask = 0;
  try {
    while (r.pos < buf.length) {
      const tagAt = r.pos;
      const tag = r.varint('tag');
      const field = Math.floor(tag / 8);
      if (field === OUTPUT_FIELDS && (tag & 7) === 2) {
        const [start, end] = r.bytes('output_fields entry');
        keys.push(entryKey(buf, start, end));
      } else if (field === JSON_LITERALS_FIELD && (tag & 7) === 0) {
        mask = r.varint('json literals');
      } else {
        r.skip(tag & 7, tagAt);
      }
    }
  } catch {
    return null; // the receiver checked these bytes already; a formatter never throws over them
  }
  if (mask === 0) return null;
  const literal = new Set<string>();
  for (let i = 0; i < keys.length && mask > 0; i++) {
    if (mask % 2 === 1) literal.add(keys[i]!);
    mask = Math.floor(mask / 2);
  }
  return literal;
}

/** The key (field 1) of a map entry; "" when it has none. */
function entryKey(buf: Buffer, start: number, end: number): string {
  const r = new Reader(buf, end);
  r.pos = start;
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = r.varint('entry tag');
    if (tag === 0x0a) {
      const [s, e] = r.bytes('key');
      return buf.toString('utf8', s, e);
    }
    r.skip(tag & 7, tagAt);
  }
  return '';
}

// Falco's JSON line straight from an encoded falco.outputs.response, without decoding it into
// an object first: one pass finds where each field's bytes are, a second copies them into the
// line in Falco's key order, escaping as JSON needs. The output workers use it for every alert;
// it is several times cheaper than decode-then-format, which creates a string per field.
// toFalcoJsonLine() (falco-json.ts) is the reference it must match byte for byte.

import { JSON_LITERALS_FIELD, NO_VALUE, PRIORITY_NAMES } from './alert.js';
import { formatTime, textLineWithoutOutput, type JsonIncludes } from './falco-json.js';
import { Reader } from './wire.js';

const HEX = '0123456789abcdef';
/** The output buffer kept between alerts; one grown for a larger alert is let go after it. */
const RETAINED_BYTES = 64 * 1024;
const NA = Buffer.from(NO_VALUE);

/** Falco's "<NA>", written back as null. */
function isNoValue(src: Buffer, start: number, end: number): boolean {
  if (end - start !== NA.length) return false;
  for (let i = 0; i < NA.length; i++) if (src[start + i] !== NA[i]) return false;
  return true;
}

/** Where the fields are: [start, end) byte offsets into the alert. */
class Layout {
  hostname = [0, 0];
  output = [0, 0];
  rule = [0, 0];
  source = [0, 0];
  priority = 0;
  seconds = 0n;
  nanos = 0;
  tags: number[] = []; // start, end pairs
  entries: number[] = []; // keyStart, keyEnd, valueStart, valueEnd
  literals = 0;

  reset(): void {
    this.hostname[0] = this.hostname[1] = this.output[0] = this.output[1] = 0;
    this.rule[0] = this.rule[1] = this.source[0] = this.source[1] = 0;
    this.priority = this.nanos = this.literals = 0;
    this.seconds = 0n;
    this.tags.length = 0;
    this.entries.length = 0;
  }
}

export class FalcoJsonWriter {
  private out = Buffer.allocUnsafe(64 * 1024);
  private at = 0;
  private readonly layout = new Layout();
  private src: Buffer = Buffer.alloc(0);
  private readonly r = new Reader(this.src, 0);

  constructor(private readonly include: JsonIncludes) {}

  /** Falco's text line: the alert's `output`, or time, priority and rule when it has none (as toFalcoTextLine). */
  textLine(bytes: Uint8Array): string {
    this.load(bytes);
    const L = this.layout;
    if (L.output[1]! > L.output[0]!) return this.src.toString('utf8', L.output[0], L.output[1]);
    return textLineWithoutOutput(L.seconds, L.nanos, L.priority, this.src.toString('utf8', L.rule[0], L.rule[1]));
  }

  private load(bytes: Uint8Array): void {
    this.src = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.scan();
  }

  /** The alert's Falco JSON line (no newline). */
  line(bytes: Uint8Array): string {
    this.load(bytes);
    const L = this.layout;
    // Worst case every byte becomes a 6-byte \u00XX escape.
    this.reserve(this.src.length * 6 + 256);
    this.at = 0;
    this.ascii('{"hostname":');
    this.quoted(L.hostname[0]!, L.hostname[1]!);
    if (this.include.output) {
      this.ascii(',"output":');
      this.quoted(L.output[0]!, L.output[1]!);
    }
    this.ascii(`,"priority":"${(PRIORITY_NAMES as readonly string[])[L.priority] ?? 'Debug'}","rule":`);
    this.quoted(L.rule[0]!, L.rule[1]!);
    this.ascii(',"source":');
    this.quoted(L.source[0]!, L.source[1]!);
    if (this.include.tags) {
      this.ascii(',"tags":[');
      for (let i = 0; i < L.tags.length; i += 2) {
        if (i > 0) this.out[this.at++] = 0x2c;
        this.quoted(L.tags[i]!, L.tags[i + 1]!);
      }
      this.out[this.at++] = 0x5d;
    }
    this.ascii(`,"time":"${formatTime(L.seconds, L.nanos)}"`);
    if (this.include.outputFields) {
      this.ascii(',"output_fields":{');
      let mask = L.literals;
      for (let i = 0; i < L.entries.length; i += 4) {
        if (i > 0) this.out[this.at++] = 0x2c;
        this.quoted(L.entries[i]!, L.entries[i + 1]!);
        this.out[this.at++] = 0x3a;
        const vs = L.entries[i + 2]!;
        const ve = L.entries[i + 3]!;
        const literal = i / 4 < 53 && mask % 2 === 1;
        mask = Math.floor(mask / 2);
        if (isNoValue(this.src, vs, ve)) this.ascii('null');
        else if (literal && isJsonLiteral(this.src, vs, ve)) this.raw(vs, ve);
        else this.quoted(vs, ve);
      }
      this.out[this.at++] = 0x7d;
    }
    this.out[this.at++] = 0x7d;
    const line = this.out.toString('utf8', 0, this.at);
    if (this.out.length > RETAINED_BYTES) this.out = Buffer.allocUnsafe(RETAINED_BYTES); // a huge alert's buffer is not kept
    return line;
  }

  private reserve(bytes: number): void {
    if (this.out.length < bytes) this.out = Buffer.allocUnsafe(bytes * 2);
  }

  // Bytes are the receiver's checked ones or our own encoder's; still, nothing here may read past
  // the end or loop on garbage: the Reader throws on a bad record, and the caller counts it as failed.
  private scan(): void {
    const L = this.layout;
    L.reset();
    const r = this.r;
    r.reset(this.src, 0, this.src.length);
    const pair = [0, 0];
    while (r.pos < r.end) {
      const tagAt = r.pos;
      const tag = r.varint('tag');
      switch (tag) {
        case 0x0a: {
          const end = r.pos + r.varint('time length');
          while (r.pos < end) {
            const at = r.pos;
            const t = r.varint('time tag');
            if (t === 0x08) L.seconds = r.varint64('time.seconds');
            else if (t === 0x10) L.nanos = r.varint('time.nanos');
            else r.skip(t & 7, at);
          }
          break;
        }
        case 0x10:
          L.priority = r.varint('priority');
          break;
        case 0x22:
          r.span(L.rule, 'rule');
          break;
        case 0x2a:
          r.span(L.output, 'output');
          break;
        case 0x32: {
          const end = r.pos + r.varint('output_fields entry length');
          let ks = 0, ke = 0, vs = 0, ve = 0;
          while (r.pos < end) {
            const at = r.pos;
            const t = r.varint('output_fields entry tag');
            if (t === 0x0a) {
              r.span(pair, 'output_fields key');
              ks = pair[0]!;
              ke = pair[1]!;
            } else if (t === 0x12) {
              r.span(pair, 'output_fields value');
              vs = pair[0]!;
              ve = pair[1]!;
            } else r.skip(t & 7, at);
          }
          L.entries.push(ks, ke, vs, ve);
          break;
        }
        case 0x3a:
          r.span(L.hostname, 'hostname');
          break;
        case 0x42:
          r.span(pair, 'tags');
          L.tags.push(pair[0]!, pair[1]!);
          break;
        case 0x4a:
          r.span(L.source, 'source');
          break;
        case JSON_LITERALS_FIELD * 8:
          L.literals = r.varint('json literals');
          break;
        default:
          r.skip(tag & 7, tagAt);
      }
    }
  }

  private ascii(text: string): void {
    for (let i = 0; i < text.length; i++) this.out[this.at++] = text.charCodeAt(i);
  }

  private raw(start: number, end: number): void {
    for (let i = start; i < end; i++) this.out[this.at++] = this.src[i]!;
  }

  /** A JSON string: UTF-8 passes through; `"`, `\` and control bytes are escaped as JSON.stringify does. */
  private quoted(start: number, end: number): void {
    const src = this.src;
    const out = this.out;
    let at = this.at;
    out[at++] = 0x22;
    for (let i = start; i < end; i++) {
      const b = src[i]!;
      if (b >= 0x20 && b !== 0x22 && b !== 0x5c) {
        out[at++] = b;
        continue;
      }
      out[at++] = 0x5c;
      switch (b) {
        case 0x22: out[at++] = 0x22; break;
        case 0x5c: out[at++] = 0x5c; break;
        case 0x08: out[at++] = 0x62; break;
        case 0x0c: out[at++] = 0x66; break;
        case 0x0a: out[at++] = 0x6e; break;
        case 0x0d: out[at++] = 0x72; break;
        case 0x09: out[at++] = 0x74; break;
        default:
          out[at++] = 0x75;
          out[at++] = 0x30;
          out[at++] = 0x30;
          out[at++] = HEX.charCodeAt(b >> 4);
          out[at++] = HEX.charCodeAt(b & 15);
      }
    }
    out[at++] = 0x22;
    this.at = at;
  }
}

/** A JSON number or boolean, byte for byte: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? | true | false. */
function isJsonLiteral(src: Buffer, start: number, end: number): boolean {
  const len = end - start;
  if (len === 4 && src.toString('latin1', start, end) === 'true') return true;
  if (len === 5 && src.toString('latin1', start, end) === 'false') return true;
  let i = start;
  const digit = (k: number): boolean => k < end && src[k]! >= 0x30 && src[k]! <= 0x39;
  if (src[i] === 0x2d) i++;
  if (!digit(i)) return false;
  if (src[i] === 0x30) i++;
  else while (digit(i)) i++;
  if (i < end && src[i] === 0x2e) {
    i++;
    if (!digit(i)) return false;
    while (digit(i)) i++;
  }
  if (i < end && (src[i] === 0x65 || src[i] === 0x45)) {
    i++;
    if (i < end && (src[i] === 0x2b || src[i] === 0x2d)) i++;
    if (!digit(i)) return false;
    while (digit(i)) i++;
  }
  return i === end;
}
